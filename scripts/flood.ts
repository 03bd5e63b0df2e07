/**
 * A flood of announces with random infohashes, in-process through the hook chain
 * and the memory store with its default limits; prints swarms, refusals, store
 * bytes and RSS every million announces.
 *
 * ```sh
 * deno run -A scripts/flood.ts 5000000
 * ```
 *
 * @module
 */
import { ManualClock } from "../src/clock.ts";
import { silentLogger } from "../src/log.ts";
import { Context } from "../src/middleware/hook.ts";
import { Logic } from "../src/middleware/logic.ts";
import { MEMORY_LIMIT_DEFAULTS, MemoryStore } from "../src/storage/memory/store.ts";
import { parseURLData } from "../src/bittorrent/params.ts";
const N = Number(Deno.args[0] ?? 5_000_000);
const store = new MemoryStore({
  gcInterval: 3_600_000,
  peerLifetime: 1_800_000,
  clock: new ManualClock(),
  ...MEMORY_LIMIT_DEFAULTS,
});
const logic = new Logic({
  announceInterval: 1_800_000,
  minAnnounceInterval: 900_000,
  store,
  prehooks: [],
  posthooks: [],
  log: silentLogger,
});
const params = parseURLData(new Uint8Array(0));
let refused = 0;
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const ih = crypto.getRandomValues(new Uint8Array(20));
  const id = crypto.getRandomValues(new Uint8Array(20));
  const req = {
    infoHash: ih,
    peer: { id, ip: new Uint8Array([10, i >> 16 & 255, i >> 8 & 255, i & 255]), port: 6881 },
    event: 0,
    eventProvided: false,
    numWant: 50,
    numWantProvided: false,
    ipProvided: false,
    compact: true,
    noPeerID: false,
    left: 1,
    downloaded: 0,
    uploaded: 0,
    params,
  } as never;
  const ctx = new Context();
  try {
    const r = logic.handleAnnounce(ctx, req) as never;
    logic.afterAnnounce(ctx, req, r);
  } catch {
    refused++;
  }
  if ((i + 1) % 1_000_000 === 0) {
    console.log(
      `${i + 1} announces: swarms ${store.stats().swarms}, refused ${refused}, store ${
        (store.bytes / 2 ** 20).toFixed(0)
      } MiB, rss ${(Deno.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB, ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s`,
    );
  }
}
store.stop();
