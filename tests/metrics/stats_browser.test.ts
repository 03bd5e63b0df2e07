/**
 * The `/stats` page in a real headless Chromium (Debian's `chromium`): a
 * screenshot that is a real rendering, and the DOM after load showing the numbers.
 * Skipped, with the reason, when no chromium binary is installed.
 */
import { test } from "node:test";
import process from "node:process";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { escapeBytes, id20 } from "../helpers/fixtures.ts";
import { startWithMetrics } from "../helpers/metrics.ts";

const candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
const chromium = candidates.find((p) => existsSync(p));

/** Runs chromium without blocking the event loop (the tracker under test must keep answering). */
function browser(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(chromium!, args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

test("stats page renders its numbers in headless Chromium", {
  skip: chromium === undefined ? "chromium is not installed (apt-get install -y chromium)" : false,
  timeout: 90_000,
}, async () => {
  const t = await startWithMetrics();
  const dir = mkdtempSync(join(tmpdir(), "hayate-chromium-"));
  try {
    for (const [ih, id, left] of [["x1", "a", 0], ["x1", "b", 1], ["x2", "c", 1], ["x3", "d", 0]] as const) {
      const q = `info_hash=${escapeBytes(id20(ih))}&peer_id=${
        escapeBytes(id20(id))
      }&port=6881&left=${left}&downloaded=0&uploaded=0`;
      await (await fetch(`${t.http()}/announce?${q}`)).arrayBuffer();
      t.metrics.sample(); // one chart point per announce
    }
    const url = `${t.metricsURL()}/stats`;
    const common = [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${join(dir, "profile")}`,
      "--window-size=1200,900",
    ];
    const png = join(dir, "stats.png");
    const shot = await browser([...common, `--screenshot=${png}`, url]);
    assert.ok(existsSync(png), `no screenshot: ${shot.stderr.slice(-2000)}`);
    const bytes = readFileSync(png);
    if (process.env.HAYATE_KEEP_SCREENSHOT) copyFileSync(png, process.env.HAYATE_KEEP_SCREENSHOT);
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "a PNG");
    const width = bytes.readUInt32BE(16), height = bytes.readUInt32BE(20);
    assert.equal(width, 1200);
    assert.ok(height >= 600, `height ${height}`);
    // A blank page compresses to a few KB; text, cards and a chart do not.
    assert.ok(bytes.length > 15_000, `screenshot is only ${bytes.length} bytes`);

    const dom = await browser([...common, "--dump-dom", url]);
    assert.equal(dom.code, 0, dom.stderr.slice(-2000));
    const text = (id: string) => dom.stdout.match(new RegExp(`id="${id}"[^>]*>([^<]*)<`))?.[1];
    assert.equal(text("torrents"), "3");
    assert.equal(text("seeders"), "2");
    assert.equal(text("leechers"), "2");
    assert.equal(text("version"), "9.9.9-test");
    assert.match(dom.stdout, /<polyline data-series="http"[^>]*points="[\d.]+,[\d.]+ /);
    assert.match(dom.stdout, /<table id="top-swarms">[\s\S]*<code>[0-9a-f]{40}<\/code>/);
  } finally {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
