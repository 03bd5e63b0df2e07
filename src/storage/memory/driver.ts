/**
 * Registers the `memory` storage driver and reads its `storage.config` keys.
 *
 * @module
 */
import { OptionsReader } from "../../config/options.ts";
import { CoarseClock } from "../../clock.ts";
import { registerStore } from "../store.ts";
import { MAX_SWARM_PEERS } from "./family.ts";
import { MEMORY_LIMIT_DEFAULTS, MemoryStore } from "./store.ts";

registerStore("memory", (config, ctx) => {
  const r = new OptionsReader(config, "storage.config", ctx.warnings);
  const gcInterval = r.duration("gc_interval", 3 * 60_000);
  const peerLifetime = r.duration("peer_lifetime", 30 * 60_000);
  // Accepted so chihaya configs load; one JS thread needs no lock shards.
  r.uint("shard_count", 1024);
  r.duration("prometheus_reporting_interval", 1000);
  const maxSwarms = r.uint("max_swarms", MEMORY_LIMIT_DEFAULTS.maxSwarms);
  const maxPeersPerSwarm = r.uint("max_peers_per_swarm", MEMORY_LIMIT_DEFAULTS.maxPeersPerSwarm, {
    max: MAX_SWARM_PEERS,
  });
  const maxPeers = r.uint("max_peers", MEMORY_LIMIT_DEFAULTS.maxPeers);
  const snapshotPath = r.string("snapshot_path", "");
  const snapshotInterval = r.duration("snapshot_interval", 0);
  // The names of chihaya's removed `memorybysubnet` store, so its configs carry over.
  const preferredIPv4SubnetBits = r.uint("preferred_ipv4_subnet_mask_bits_set", 0, { max: 32 });
  const preferredIPv6SubnetBits = r.uint("preferred_ipv6_subnet_mask_bits_set", 0, { max: 128 });
  r.finish();
  const clock = new CoarseClock();
  const store = new MemoryStore({
    gcInterval,
    peerLifetime,
    clock,
    maxSwarms,
    maxPeersPerSwarm,
    maxPeers,
    snapshotPath,
    snapshotInterval,
    preferredIPv4SubnetBits,
    preferredIPv6SubnetBits,
    log: (level, msg, fields) => ctx.log(level, msg, fields),
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
