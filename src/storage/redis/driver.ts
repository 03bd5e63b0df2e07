/**
 * Registers the `redis` storage driver and reads its `storage.config` keys
 * (chihaya's, plus `key_prefix`). Unlike chihaya, the three timeouts apply
 * when omitted (15 s each); chihaya left them at "no timeout".
 *
 * @module
 */
import { OptionsReader } from "../../config/options.ts";
import { CoarseClock } from "../../clock.ts";
import { registerStore } from "../store.ts";
import { RedisStore } from "./store.ts";
import { parseBroker } from "./url.ts";

registerStore("redis", (config, ctx) => {
  const r = new OptionsReader(config, "storage.config", ctx.warnings);
  const broker = r.string("redis_broker", "redis://127.0.0.1:6379/0");
  try {
    parseBroker(broker);
  } catch (err) {
    throw r.error("redis_broker", (err as Error).message);
  }
  const readTimeout = r.duration("redis_read_timeout", 15_000);
  const writeTimeout = r.duration("redis_write_timeout", 15_000);
  const connectTimeout = r.duration("redis_connect_timeout", 15_000);
  const gcInterval = r.duration("gc_interval", 3 * 60_000);
  const peerLifetime = r.duration("peer_lifetime", 30 * 60_000);
  // Gauges are read from stats() by the metrics reporter; accepted for chihaya configs.
  r.duration("prometheus_reporting_interval", 1000);
  const keyPrefix = r.string("key_prefix", "");
  r.finish();
  const clock = new CoarseClock();
  const store = new RedisStore({
    broker,
    readTimeout,
    writeTimeout,
    connectTimeout,
    gcInterval,
    peerLifetime,
    keyPrefix,
    clock,
    log: ctx.log,
    onGC: (res) => {
      ctx.log("debug", "storage gc finished", { ...res });
      ctx.onGC?.(res.durationMs);
    },
  });
  const stop = store.stop.bind(store);
  store.stop = async () => {
    clock.stop();
    await stop();
  };
  return store;
});
