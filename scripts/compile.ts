/**
 * Builds self-contained hayate executables into `dist/`, with a `SHA256SUMS` file
 * (`sha256sum -c` format) over every `dist/hayate-*` binary.
 *
 * ```sh
 * deno task compile                 # deno compile, every release target
 * deno task compile --target x86_64-unknown-linux-gnu
 * deno task compile:bun             # bun build --compile, for this host (offline)
 * ```
 *
 * `deno compile` bakes in the permissions and unstable flags the tracker needs
 * (`--allow-net --allow-read --allow-env --allow-ffi --unstable-net`); it downloads
 * a `denort` base binary per target from dl.deno.land at build time (`DENORT_BIN`
 * points it at a local one for the host target). When that download fails the task
 * says so in one line and exits 1, leaving `dist/` as it was; it never pretends.
 *
 * Binaries are named `hayate-<target>[.exe]` with Rust-style target triples, as the
 * release workflow attaches them and `scripts/install.sh` downloads them.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Every release target of `deno compile`. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** What the tracker needs at run time, baked into each deno-compiled binary. */
export const DENO_FLAGS = ["--allow-net", "--allow-read", "--allow-env", "--allow-ffi", "--unstable-net"];

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");

/** `hayate-<target>`, with `.exe` for Windows. */
export function binaryName(target: string): string {
  return `hayate-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/** Rewrites dist/SHA256SUMS over every dist/hayate-* file; returns its lines. */
export async function writeSums(dir = dist): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.startsWith("hayate-") && !e.name.includes(".tmp")) names.push(e.name);
  }
  names.sort();
  const lines: string[] = [];
  for (const name of names) {
    const hash = createHash("sha256").update(await Deno.readFile(join(dir, name))).digest("hex");
    lines.push(`${hash}  ${name}`);
  }
  await Deno.writeTextFile(join(dir, "SHA256SUMS"), lines.map((l) => l + "\n").join(""));
  return lines;
}

async function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command(cmd, { args, cwd: root, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  // deno colours its errors even into a pipe.
  // deno-lint-ignore no-control-regex
  return { code: out.code, output: text.replace(/\x1b\[[0-9;]*m/g, "") };
}

async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

async function denoCompile(targets: string[]): Promise<number> {
  for (const [done, target] of targets.entries()) {
    const out = join(dist, binaryName(target));
    // deno compile deletes its output file before it fetches denort: build in a scratch
    // directory, so a failed build leaves dist/ (binaries and SHA256SUMS) as it was.
    const scratch = await Deno.makeTempDir({ dir: dist, prefix: ".build-" });
    const built = join(scratch, binaryName(target));
    let r: { code: number; output: string };
    try {
      r = await run(Deno.execPath(), [
        "compile",
        ...DENO_FLAGS,
        "--target",
        target,
        "--output",
        built,
        "main.ts",
      ]);
      if (r.code === 0) await Deno.rename(built, out);
    } finally {
      await Deno.remove(scratch, { recursive: true });
    }
    if (r.code !== 0) {
      if (/Setting up base binary|denort/i.test(r.output)) {
        const url = r.output.match(/https:\/\/dl\.deno\.land\/\S+?\.zip/)?.[0] ?? `denort for ${target}`;
        console.error(
          `compile: cannot download the denort base binary (${url}), so no ${target} binary; ` +
            `${done} of ${targets.length} targets built`,
        );
      } else {
        console.error(`compile: deno compile failed for ${target}:\n${r.output.trim()}`);
      }
      // What was built before the failure is listed, so the sums never name a stale file.
      if (done > 0) await writeSums();
      return 1;
    }
    const { size } = await Deno.stat(out);
    console.log(`built dist/${binaryName(target)} (${(size / 1048576).toFixed(1)} MiB)`);
  }
  return 0;
}

async function bunCompile(): Promise<number> {
  const bun = Deno.env.get("BUN") ?? "bun";
  const version = await run(bun, ["--version"]).catch(() => null);
  if (version === null || version.code !== 0) {
    console.error("compile:bun: bun is not on PATH (npm install -g bun)");
    return 1;
  }
  // Bun resolves the npm imports through node_modules/, which deno lays out from
  // deno.json and deno.lock (from the npm cache; offline once cached).
  const install = await run(Deno.execPath(), ["install", "--node-modules-dir=auto", "--quiet"]);
  if (install.code !== 0) {
    console.error(`compile:bun: deno install failed:\n${install.output.trim()}`);
    return 1;
  }
  const target = Deno.build.target;
  const out = join(dist, binaryName(target));
  await removeIfExists(out);
  const r = await run(bun, ["build", "--compile", "--minify", "main.ts", "--outfile", out]);
  if (r.code !== 0) {
    console.error(`compile:bun: bun build --compile failed:\n${r.output.trim()}`);
    return 1;
  }
  const { size } = await Deno.stat(out);
  console.log(
    `built dist/${binaryName(target)} with bun ${version.output.trim()} (${(size / 1048576).toFixed(1)} MiB)`,
  );
  return 0;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      bun: { type: "boolean", default: false },
      target: { type: "string", multiple: true },
    },
  });
  const targets = values.target ?? [...TARGETS];
  const unknown = targets.filter((t) => !(TARGETS as readonly string[]).includes(t));
  if (unknown.length > 0) {
    console.error(`compile: unknown target ${unknown.join(", ")}; known: ${TARGETS.join(", ")}`);
    return 2;
  }
  await Deno.mkdir(dist, { recursive: true });
  const code = values.bun ? await bunCompile() : await denoCompile(targets);
  if (code !== 0) return code;
  for (const line of await writeSums()) console.log(line);
  console.log("wrote dist/SHA256SUMS");
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
