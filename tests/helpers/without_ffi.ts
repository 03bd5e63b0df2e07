/**
 * Runs a transport selection in a `deno run` that has no `--allow-ffi`, as an
 * operator who forgot the flag would: what `auto` picks there, and what `ffi` throws.
 */

/**
 * Calls `name("auto", ...args)` and `name("ffi", ...args)` of the module at
 * `module` in a subprocess without FFI permission.
 *
 * @example
 * ```ts
 * const r = await selectWithoutFFI(new URL("../../src/frontend/udp/select.ts", import.meta.url), "selectUDPTransport");
 * r.auto; // "deno"
 * ```
 */
export async function selectWithoutFFI(
  module: URL,
  name: string,
  args: unknown[] = [],
): Promise<{ auto: string; reason: string; err: string }> {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  const rest = args.map((a) => `, ${JSON.stringify(a)}`).join("");
  try {
    await Deno.writeTextFile(
      script,
      `import { ${name} } from ${JSON.stringify(module.href)};
const auto = ${name}("auto"${rest});
let err = "";
try { ${name}("ffi"${rest}); } catch (e) { err = (e as Error).message; }
console.log(JSON.stringify({ auto: auto.transport, reason: auto.reason, err }));`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-read", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.code !== 0) throw new Error(`the subprocess failed: ${new TextDecoder().decode(out.stderr)}`);
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } finally {
    await Deno.remove(script);
  }
}
