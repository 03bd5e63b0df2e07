/** Parsing of the Prometheus text format, and a tracker with a metrics server, for tests. */
import { udpConfig as baseUDPConfig } from "./tracker.ts";
import { createSocket } from "node:dgram";
import type { Config, UDPConfig } from "../../src/config/types.ts";
import { listenUDP, serveHTTP } from "../../src/frontend/bindings.ts";
import { type Logger, silentLogger } from "../../src/log.ts";
import { TrackerMetrics } from "../../src/metrics/metrics.ts";
import { runtime } from "../../src/runtime.ts";
import { Tracker } from "../../src/tracker.ts";
import { httpConfig, testConfig } from "./tracker.ts";

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every metric family: TYPE, HELP and samples. */
export interface Exposition {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: Sample[];
}

/** A strict-enough parser of the text format (0.0.4); throws on a malformed line. */
export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m = line.match(/^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/);
    if (m) {
      (m[1] === "TYPE" ? types : help).set(m[2], m[3]);
      continue;
    }
    m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/);
    if (!m) throw new Error(`malformed exposition line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      for (const lm of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/g)) {
        labels[lm[1]] = lm[2];
      }
    }
    samples.push({ name: m[1], labels, value: m[4] === "+Inf" ? Infinity : Number(m[4]) });
  }
  return { types, help, samples };
}

/** The UDP block the metrics tests use: request timing on. */
export function udpConfig(over: Partial<UDPConfig> = {}): UDPConfig {
  return baseUDPConfig({ privateKey: "metrics test key", enableRequestTiming: true, ...over });
}

/** HTTP + UDP + metrics on loopback; `base(protocol)` gives URLs. */
export async function startWithMetrics(over: Partial<Config> = {}, log: Logger = silentLogger) {
  const metrics = new TrackerMetrics({ version: "9.9.9-test", memory: () => runtime.memoryUsage() });
  const config = testConfig({
    metricsAddr: "127.0.0.1:0",
    http: httpConfig({ enableRequestTiming: true }),
    udp: udpConfig(),
    ...over,
  });
  const tracker = await Tracker.start(config, { runtime: { serveHTTP, listenUDP }, log, metrics });
  const addr = (p: "http" | "udp" | "metrics") => {
    const a = tracker.address(p);
    if (a === undefined) throw new Error(`no ${p} listener`);
    return a;
  };
  return {
    tracker,
    metrics,
    http: () => `http://127.0.0.1:${addr("http").port}`,
    metricsURL: () => `http://127.0.0.1:${addr("metrics").port}`,
    udpPort: () => addr("udp").port,
    async stop() {
      metrics.stopSampling();
      await tracker.stop();
    },
  };
}

/** Sends one datagram and resolves with the reply, or null after `ms`. */
export function udpExchange(port: number, packet: Uint8Array, ms = 1000): Promise<Uint8Array | null> {
  const sock = createSocket("udp4");
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      sock.close();
      resolve(null);
    }, ms);
    sock.on("message", (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(new Uint8Array(msg));
    });
    sock.send(packet, port, "127.0.0.1");
  });
}
