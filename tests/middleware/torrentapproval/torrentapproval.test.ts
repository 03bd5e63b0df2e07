import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../../src/config/options.ts";
import { Context, hookDriver } from "../../../src/middleware/hook.ts";
import {
  ErrUnapprovedTorrent,
  hashProblem,
  parseHashFile,
  readTorrentApprovalConfig,
  TorrentApproval,
} from "../../../src/middleware/torrentapproval/torrentapproval.ts";
import "../../../src/middleware/drivers.ts";
import { announce, hash, hookContext, hookOptions, response, scrape, scrapeResponse } from "../helpers.ts";

const A = "3532cf2d327fad8448c075b4cb42c8136964a435";
const B = "4532cf2d327fad8448c075b4cb42c8136964a435";
const C = "c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff";

async function build(options: Record<string, unknown>, ctx = hookContext()) {
  return (await hookDriver("torrent approval")!(options, ctx)) as TorrentApproval;
}

function outcome(hook: TorrentApproval, ih: string): string | undefined {
  try {
    hook.handleAnnounce(new Context(), announce({ infoHash: hash(ih) }), response());
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function scrapeOutcome(hook: TorrentApproval, ...ihs: string[]): string | undefined {
  try {
    hook.handleScrape(new Context(), scrape(ihs.map(hash)), scrapeResponse());
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

async function tempDir(): Promise<string> {
  return await mkdtemp(join(tmpdir(), "hayate-ta-"));
}

test("torrent approval is registered under chihaya's name", () => {
  assert.ok(hookDriver("torrent approval"));
});

test("chihaya vectors: whitelist", async () => {
  const hook = await build({ whitelist: [A] });
  assert.equal(outcome(hook, A), undefined);
  assert.equal(outcome(hook, B), "unapproved torrent");
});

test("chihaya vectors: blacklist", async () => {
  const hook = await build({ blacklist: [A] });
  assert.equal(outcome(hook, B), undefined);
  assert.equal(outcome(hook, A), "unapproved torrent");
});

test("hashes in the config are case-insensitive", async () => {
  const hook = await build({ whitelist: [A.toUpperCase()] });
  assert.equal(outcome(hook, A), undefined);
});

test("the refusal is chihaya's ClientError; the context is unchanged", async () => {
  assert.equal(ErrUnapprovedTorrent.message, "unapproved torrent");
  const hook = await build({ whitelist: [A] });
  const ctx = new Context();
  hook.handleAnnounce(ctx, announce({ infoHash: hash(A) }), response());
  assert.deepEqual(ctx, new Context());
});

test("no list approves everything, with a warning", async () => {
  const ctx = hookContext();
  const hook = await build({}, ctx);
  assert.equal(outcome(hook, A), undefined);
  assert.deepEqual(ctx.warnings, [
    "prehooks[0].options: neither whitelist, blacklist nor file is set, so torrent approval approves every torrent",
  ]);
});

test("scrapes are not filtered unless check_scrape", async () => {
  assert.equal(scrapeOutcome(await build({ whitelist: [A] }), B), undefined);
  const strict = await build({ whitelist: [A], check_scrape: true });
  assert.equal(scrapeOutcome(strict, A), undefined);
  assert.equal(scrapeOutcome(strict, A, B), "unapproved torrent");
  const black = await build({ blacklist: [A], check_scrape: true });
  assert.equal(scrapeOutcome(black, B, C), undefined);
  assert.equal(scrapeOutcome(black, C, A), "unapproved torrent");
});

test("chihaya's startup errors, with the entry's path and line", () => {
  assert.equal(hashProblem("whitelist", "zz"), "whitelist : invalid hash zz");
  assert.equal(hashProblem("whitelist", "abc"), "whitelist : invalid hash abc");
  assert.equal(hashProblem("blacklist", "abcd"), "blacklist : hash abcd is not 20 byes");
  assert.equal(hashProblem("blacklist", A), undefined);
  const opts = hookOptions(`    - name: torrent approval
      options:
        whitelist:
          - ${A}
          - ${A}00
`);
  assert.throws(() => readTorrentApprovalConfig(opts, "x", []), {
    name: "ConfigError",
    message:
      `prehooks[0].options.whitelist[1]: whitelist : hash ${A}00 is not 20 byes; an infohash is 40 hex ` +
      `digits (config.yaml:9)`,
  });
  assert.throws(
    () => readTorrentApprovalConfig({ blacklist: ["not hex"] }, "p", []),
    { message: `p.blacklist[0]: blacklist : invalid hash not hex; an infohash is 40 hex digits` },
  );
  assert.throws(
    () => readTorrentApprovalConfig({ whitelist: [A], blacklist: [B] }, "p", []),
    { message: "p.blacklist: using both whitelist and blacklist is invalid; keep one of them" },
  );
  assert.throws(
    () => readTorrentApprovalConfig({ file: "x", file_list: "greylist" }, "p", []),
    { message: `p.file_list: "greylist" is not a list; use whitelist or blacklist` },
  );
  assert.throws(
    () => readTorrentApprovalConfig({ file_list: "blacklist" }, "p", []),
    /p.file_list: is set but file is not/,
  );
  assert.throws(
    () => readTorrentApprovalConfig({ file: "x", whitelist: [A], file_list: "blacklist" }, "p", []),
    /p.file_list: using both whitelist and blacklist is invalid: the file extends the blacklist/,
  );
  assert.throws(
    () => readTorrentApprovalConfig({ check_scrape: "yes please" }, "p", []),
    /p.check_scrape: expected true or false/,
  );
});

test("parseHashFile: one hash per line, comments and blanks skipped, errors name path:line", () => {
  assert.deepEqual(
    parseHashFile(`# approved\n\n  ${A.toUpperCase()}  \r\n${B} # a comment\n`, "a.txt", "whitelist"),
    [A, B],
  );
  assert.throws(() => parseHashFile(`${A}\nxyz\n`, "a.txt", "blacklist"), {
    message: "a.txt:2: blacklist : invalid hash xyz; write one 40-hex-digit infohash per line",
  });
});

test("file: whitelist from a file, joined with the inline list", async () => {
  const dir = await tempDir();
  try {
    const file = join(dir, "ok.txt");
    await writeFile(file, `${B}\n`);
    const hook = await build({ whitelist: [A], file });
    try {
      assert.equal(hook.size, 2);
      assert.equal(outcome(hook, A), undefined);
      assert.equal(outcome(hook, B), undefined);
      assert.equal(outcome(hook, C), "unapproved torrent");
    } finally {
      await hook.stop();
    }
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("file: an empty whitelist file approves nothing", async () => {
  const dir = await tempDir();
  try {
    const file = join(dir, "empty.txt");
    await writeFile(file, "# nothing yet\n");
    const hook = await build({ file });
    try {
      assert.equal(outcome(hook, A), "unapproved torrent");
    } finally {
      await hook.stop();
    }
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("file: re-read when it changes, without a restart (poller)", async () => {
  const dir = await tempDir();
  const ctx = hookContext();
  try {
    const file = join(dir, "block.txt");
    await writeFile(file, `${A}\n`);
    const hook = await build({ file, file_list: "blacklist", file_check_interval: "20ms" }, ctx);
    try {
      assert.equal(outcome(hook, A), "unapproved torrent");
      assert.equal(outcome(hook, B), undefined);
      // Replace atomically, as editors and deploy tools do.
      await writeFile(join(dir, "tmp"), `${B}\n${C}\n`);
      await rename(join(dir, "tmp"), file);
      const deadline = Date.now() + 3000;
      while (outcome(hook, B) === undefined && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(outcome(hook, B), "unapproved torrent");
      assert.equal(outcome(hook, C), "unapproved torrent");
      assert.equal(outcome(hook, A), undefined, "removed from the file, so no longer blocked");
      assert.ok(ctx.lines.some((l) => l.level === "info" && l.msg === "torrent approval: loaded the file"));
    } finally {
      await hook.stop();
    }
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("file: a bad reload is logged and the previous list kept; a missing file too", async () => {
  const dir = await tempDir();
  const ctx = hookContext();
  try {
    const file = join(dir, "ok.txt");
    await writeFile(file, `${A}\n`);
    const hook = await build({ file, file_check_interval: "1h" }, ctx);
    try {
      await writeFile(file, `${A}\n${B}\nnot-a-hash\n`);
      await hook.checkFile();
      assert.equal(outcome(hook, A), undefined);
      assert.equal(outcome(hook, B), "unapproved torrent", "the bad file was not taken");
      const err = ctx.lines.find((l) => l.level === "error");
      assert.equal(err?.msg, "torrent approval: cannot reload the file; keeping the previous list");
      assert.equal(
        err?.fields?.error,
        `${file}:3: whitelist : invalid hash not-a-hash; write one 40-hex-digit infohash per line`,
      );

      await rm(file);
      await hook.checkFile();
      assert.equal(outcome(hook, A), undefined);
      assert.equal(ctx.lines.filter((l) => l.level === "error").length, 2);

      await writeFile(file, `${B}\n`);
      await hook.checkFile();
      assert.equal(outcome(hook, B), undefined, "a good file is taken again");
      assert.equal(outcome(hook, A), "unapproved torrent");
    } finally {
      await hook.stop();
    }
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("file: an unreadable or bad file fails the start with the key path and reason", async () => {
  const dir = await tempDir();
  try {
    const missing = join(dir, "missing.txt");
    await assert.rejects(build({ file: missing }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, new RegExp(`^prehooks\\[0\\]\\.options\\.file: cannot load ${missing}: `));
      return true;
    });
    const bad = join(dir, "bad.txt");
    await writeFile(bad, `${A}\n${A}ff\n`);
    await assert.rejects(build({ file: bad }), {
      message:
        `prehooks[0].options.file: cannot load ${bad}: ${bad}:2: whitelist : hash ${A}ff is not 20 byes; ` +
        `write one 40-hex-digit infohash per line`,
    });
    await assert.rejects(build({ file: dir }), {
      message: `prehooks[0].options.file: cannot load ${dir}: not a regular file`,
    });
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("stop() ends the polling: later changes are not read", async () => {
  const dir = await tempDir();
  try {
    const file = join(dir, "ok.txt");
    await writeFile(file, `${A}\n`);
    const hook = await build({ file, file_check_interval: "10ms" });
    await hook.stop();
    await writeFile(file, `${B}\n`);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(outcome(hook, A), undefined);
    assert.equal(outcome(hook, B), "unapproved torrent");
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("TorrentApproval.create with a config read by hand", async () => {
  const cfg = readTorrentApprovalConfig({ blacklist: [A] }, "p", []);
  assert.deepEqual(cfg, {
    mode: "blacklist",
    hashes: [A],
    file: "",
    fileCheckInterval: 5000,
    checkScrape: false,
  });
  const hook = await TorrentApproval.create(cfg, { log: () => {} });
  assert.equal(outcome(hook, A), "unapproved torrent");
  await hook.stop();
});
