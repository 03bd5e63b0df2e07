/**
 * The hayate command line: reads the YAML config, starts the tracker, and stops it
 * cleanly on SIGINT/SIGTERM.
 *
 * ```sh
 * deno run --allow-net --allow-read --allow-env --allow-ffi main.ts --config config.example.yaml
 * ```
 *
 * `--allow-ffi` lets `udp.transport: auto` (the default) use the batched libc
 * `recvmmsg`/`sendmmsg` transport on Linux; without it UDP runs on
 * `Deno.listenDatagram`, and `udp.transport: ffi` refuses to start.
 *
 * @module
 */
import { parseArgs } from "node:util";
import denoJson from "./deno.json" with { type: "json" };
import { loadConfig } from "./src/config/load.ts";
import { serveHTTP } from "./src/frontend/http/deno.ts";
import { listenUDP } from "./src/frontend/udp/deno.ts";
import { selectUDPTransport } from "./src/frontend/udp/select.ts";
import { Logger } from "./src/log.ts";
import { hookNames } from "./src/middleware/hook.ts";
import { storeNames } from "./src/storage/store.ts";
import { Tracker } from "./src/tracker.ts";

const HELP = `hayate ${denoJson.version}: a BitTorrent tracker (chihaya-compatible)

Usage: hayate [--config PATH] [--debug] [--json] [--nocolors]

Options:
  --config PATH   YAML config file (default /etc/hayate.yaml)
  --debug         log debug lines, including one per request
  --json          log JSON lines instead of text
  --nocolors      plain text logs (colours are also off when stderr is not a terminal)
  --help          show this help
  --version       print the version
`;

const encoder = new TextEncoder();

async function main(args: string[]): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args,
      options: {
        config: { type: "string", default: "/etc/hayate.yaml" },
        debug: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        nocolors: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
        version: { type: "boolean", default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  if (flags.version) {
    console.log(`hayate ${denoJson.version}`);
    return 0;
  }
  const log = new Logger({
    json: flags.json,
    debug: flags.debug,
    colors: !flags.nocolors && Deno.stderr.isTerminal(),
    sink: (line) => Deno.stderr.writeSync(encoder.encode(line + "\n")),
  });

  let tracker: Tracker;
  try {
    const text = await Deno.readTextFile(flags.config);
    const { config, warnings } = loadConfig(text, {
      path: flags.config,
      env: Deno.env.toObject(),
      knownStores: storeNames(),
      knownHooks: hookNames(),
    });
    for (const w of warnings) log.warn(w);
    if (config.udp?.privateKeyGenerated) {
      log.warn("udp.private_key is not set: a random key was generated, so connection IDs change on restart");
    }
    tracker = await Tracker.start(config, {
      runtime: { serveHTTP, listenUDP, selectUDP: selectUDPTransport },
      log,
    });
  } catch (err) {
    log.error("failed to start", { error: (err as Error).message });
    return 1;
  }
  log.info("hayate started", { version: denoJson.version, config: flags.config });

  const { promise: stopping, resolve } = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, () => resolve(s));
  const signal = await stopping;
  log.info("shutting down", { signal });
  // A second signal, or a shutdown that hangs, must not keep the process alive.
  const deadline = setTimeout(() => {
    log.error("shutdown took too long; exiting");
    Deno.exit(1);
  }, 5000);
  await tracker.stop();
  clearTimeout(deadline);
  log.info("stopped");
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
