/**
 * Full scrape (opentracker's feature; chihaya #396): a scrape without `info_hash`
 * lists every swarm of the client's address family, behind `allow_full_scrape`.
 * The body is streamed batch by batch from the store's swarm listing, so a million
 * swarms never become one string, and gzip-compressed when the client accepts it.
 * Swarms come in table order, not sorted as BEP 3 dictionaries should be (as in
 * opentracker): sorting would need every key in memory at once.
 *
 * @module
 */
import { BencodeWriter } from "../../bittorrent/bencode.ts";
import { familyOf } from "../../bittorrent/ip.ts";
import type { Params } from "../../bittorrent/params.ts";
import type { ScrapeRequest } from "../../bittorrent/request.ts";
import type { SwarmSummary } from "../../storage/store.ts";
import { clientIP, ErrInvalidIP, type ParseOptions, type RemoteAddress } from "./parser.ts";

/** Lists the swarms of one family, as `PeerStore.swarms` does. */
export type SwarmLister = (family: 4 | 6) => AsyncIterable<SwarmSummary[]>;

const OPEN = new TextEncoder().encode("d5:filesd");
const CLOSE = new TextEncoder().encode("ee");

/** The ScrapeRequest of a full scrape: no infohashes, the client's family (hooks still run on it). */
export function parseFullScrape(
  params: Params,
  header: (name: string) => string | null,
  remote: RemoteAddress,
  opts: ParseOptions,
): ScrapeRequest {
  const { ip } = clientIP(params, header, remote, opts);
  if (ip === null) throw ErrInvalidIP;
  return { infoHashes: [], family: familyOf(ip), params };
}

/** True when an `Accept-Encoding` value allows gzip (a `q=0` refuses it). */
export function acceptsGzip(value: string | null): boolean {
  if (value === null) return false;
  for (const part of value.split(",")) {
    const [name, ...rest] = part.trim().toLowerCase().split(";");
    if (name !== "gzip" && name !== "x-gzip" && name !== "*") continue;
    const q = rest.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

/** The bencoded `files` dictionary, one chunk per batch of swarms, pulled as the socket drains. */
export function fullScrapeStream(swarms: AsyncIterable<SwarmSummary[]>): ReadableStream<Uint8Array> {
  const it = swarms[Symbol.asyncIterator]();
  let opened = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!opened) {
        opened = true;
        controller.enqueue(OPEN);
      }
      const next = await it.next();
      if (next.done) {
        controller.enqueue(CLOSE);
        controller.close();
        return;
      }
      const batch = next.value;
      const w = new BencodeWriter(16 + batch.length * 90);
      for (const s of batch) {
        w.bytes(s.infoHash).dict()
          .key("complete").int(s.complete)
          .key("downloaded").int(s.downloaded)
          .key("incomplete").int(s.incomplete)
          .end();
      }
      controller.enqueue(w.finish());
    },
    async cancel() {
      await it.return?.();
    },
  }, { highWaterMark: 1 });
}

/**
 * The full-scrape response: streamed, gzip when `acceptEncoding` allows it.
 *
 * @example
 * ```ts
 * const res = fullScrapeResponse(store.swarms!(4), req.headers.get("accept-encoding"), {});
 * ```
 */
export function fullScrapeResponse(
  swarms: AsyncIterable<SwarmSummary[]>,
  acceptEncoding: string | null,
  headers: Record<string, string>,
): Response {
  let body = fullScrapeStream(swarms);
  const h: Record<string, string> = { ...headers, vary: "accept-encoding" };
  if (acceptsGzip(acceptEncoding)) {
    body = body.pipeThrough(
      new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
    h["content-encoding"] = "gzip";
  }
  return new Response(body, { status: 200, headers: h });
}
