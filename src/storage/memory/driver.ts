/**
 * Registers the `memory` storage driver and reads its `storage.config` keys.
 *
 * @module
 */
import { OptionsReader } from "../../config/options.ts";
import { CoarseClock } from "../../clock.ts";
import { registerStore } from "../store.ts";
import { MemoryStore } from "./store.ts";

registerStore("memory", (config, ctx) => {
  const r = new OptionsReader(config, "storage.config", ctx.warnings);
  const gcInterval = r.duration("gc_interval", 3 * 60_000);
  const peerLifetime = r.duration("peer_lifetime", 30 * 60_000);
  // Accepted so chihaya configs load; one JS thread needs no lock shards.
  r.uint("shard_count", 1024);
  r.duration("prometheus_reporting_interval", 1000);
  r.finish();
  const clock = new CoarseClock();
  const store = new MemoryStore({
    gcInterval,
    peerLifetime,
    clock,
    onGC: (res) => {
      ctx.log("debug", "storage gc finished", { ...res });
      ctx.onGC?.(res.durationMs);
    },
  });
  const stop = store.stop.bind(store);
  store.stop = () => {
    clock.stop();
    stop();
  };
  return store;
});
