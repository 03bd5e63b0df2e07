import { test } from "node:test";
import { CLIENT_ID_VECTORS } from "../../helpers/fixtures.ts";
import assert from "node:assert/strict";
import { isClientError } from "../../../src/bittorrent/errors.ts";
import { ConfigError } from "../../../src/config/options.ts";
import { Context, hookDriver } from "../../../src/middleware/hook.ts";
import {
  clientApprovalHook,
  ErrUnapprovedClient,
  readClientApprovalConfig,
} from "../../../src/middleware/clientapproval/clientapproval.ts";
import "../../../src/middleware/drivers.ts";
import { announce, hookContext, hookOptions, response, text20 } from "../helpers.ts";

const te = new TextEncoder();

function hookOf(options: Record<string, unknown>) {
  return clientApprovalHook(readClientApprovalConfig(options, "prehooks[0].options", []));
}

function run(options: Record<string, unknown>, peerID: string): string | undefined {
  const hook = hookOf(options);
  const req = announce({ peer: { id: te.encode(peerID), ip: new Uint8Array([10, 0, 0, 1]), port: 6881 } });
  try {
    hook.handleAnnounce!(new Context(), req, response());
    return undefined;
  } catch (err) {
    assert.ok(isClientError(err));
    return (err as Error).message;
  }
}

test("client approval is registered under chihaya's name", () => {
  assert.ok(hookDriver("client approval"));
});

test("chihaya vectors: whitelist", () => {
  assert.equal(run({ whitelist: ["010203"] }, "01020304050607080900"), undefined);
  assert.equal(run({ whitelist: ["010203"] }, "10203040506070809000"), "unapproved client");
});

test("chihaya vectors: blacklist", () => {
  assert.equal(run({ blacklist: ["010203"] }, "00000000001234567890"), undefined);
  assert.equal(run({ blacklist: ["123456"] }, "12345678900000000000"), "unapproved client");
});

test("the refusal is a ClientError with chihaya's text", () => {
  assert.equal(ErrUnapprovedClient.message, "unapproved client");
  assert.ok(isClientError(ErrUnapprovedClient));
});

test("the context and the response are left unchanged", () => {
  const hook = hookOf({ whitelist: ["010203"] });
  const ctx = new Context();
  const resp = response();
  hook.handleAnnounce!(
    ctx,
    announce({ peer: { id: te.encode("01020304050607080900"), ip: new Uint8Array(4).fill(1), port: 1 } }),
    resp,
  );
  assert.deepEqual(ctx, new Context());
  assert.deepEqual(resp, response());
});

// Each of chihaya's peer IDs, whitelisted by its client ID, is approved; blacklisted, refused.
test("chihaya's client ID vectors, through the whitelist and the blacklist", () => {
  for (const [peerID, cid] of CLIENT_ID_VECTORS) {
    text20(peerID);
    assert.equal(run({ whitelist: [cid] }, peerID), undefined, `${peerID} → ${cid}`);
    assert.equal(run({ blacklist: [cid] }, peerID), "unapproved client", `${peerID} → ${cid}`);
    assert.equal(run({ whitelist: ["zzzzzz"] }, peerID), "unapproved client");
  }
});

test("client IDs are compared as bytes, case-sensitively", () => {
  assert.equal(run({ whitelist: ["az3034"] }, "-AZ3034-6wfG2wk6wWLc"), "unapproved client");
  // A binary peer ID: its first 6 bytes, whatever they are.
  const hook = hookOf({ blacklist: ["ÿÿÿ"] }); // 3 × U+00FF = 6 UTF-8 bytes c3 bf c3 bf c3 bf
  const id = new Uint8Array(20);
  id.set([0xc3, 0xbf, 0xc3, 0xbf, 0xc3, 0xbf]);
  assert.throws(
    () =>
      hook.handleAnnounce!(
        new Context(),
        announce({ peer: { id, ip: new Uint8Array(4).fill(1), port: 1 } }),
        response(),
      ),
    ErrUnapprovedClient,
  );
});

test("scrapes are not checked", () => {
  const hook = hookOf({ whitelist: ["010203"] });
  assert.equal(hook.handleScrape, undefined);
});

test("neither list approves every client, with a warning", () => {
  const warnings: string[] = [];
  const hook = clientApprovalHook(readClientApprovalConfig({}, "prehooks[2].options", warnings));
  hook.handleAnnounce!(new Context(), announce(), response());
  assert.deepEqual(warnings, [
    "prehooks[2].options: neither whitelist nor blacklist is set, so client approval approves every client",
  ]);
});

test("option errors carry chihaya's text, the key path and file:line", () => {
  const wrong = hookOptions(`    - name: client approval
      options:
        whitelist:
          - OP1011
          - OP101
`);
  assert.throws(() => readClientApprovalConfig(wrong, "x", []), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(
      err.message,
      `prehooks[0].options.whitelist[1]: client ID OP101 must be 6 bytes (it is 5); a client ID is the 6 ` +
        `characters after the leading "-" of an Azureus-style peer ID (e.g. "qB4500" for "-qB4500-…") ` +
        `(config.yaml:9)`,
    );
    return true;
  });
  const both = hookOptions(`    - name: client approval
      options:
        whitelist: [OP1011]
        blacklist: [AZ3034]
`);
  assert.throws(
    () => readClientApprovalConfig(both, "x", []),
    {
      name: "ConfigError",
      message:
        "prehooks[0].options.blacklist: using both whitelist and blacklist is invalid; keep one of them " +
        "(config.yaml:8)",
    },
  );
  assert.throws(
    () => readClientApprovalConfig({ blacklist: ["ÿÿÿÿ"] }, "p", []),
    /client ID ÿÿÿÿ must be 6 bytes \(it is 8\)/,
  );
  assert.throws(
    () => readClientApprovalConfig({ whitelist: "OP1011" }, "p", []),
    /p.whitelist: expected a list/,
  );
});

test("unknown option keys are warnings, with a suggestion", () => {
  const warnings: string[] = [];
  readClientApprovalConfig({ whitelist: ["OP1011"], blacklists: [] }, "prehooks[0].options", warnings);
  assert.deepEqual(warnings, [
    "unknown key prehooks[0].options.blacklists is ignored; did you mean prehooks[0].options.blacklist?",
  ]);
});

test("the registered driver builds the hook from its options", async () => {
  const ctx = hookContext();
  const hook = await hookDriver("client approval")!({ whitelist: ["AZ3034"] }, ctx);
  assert.throws(() => hook.handleAnnounce!(new Context(), announce(), response()), ErrUnapprovedClient);
  assert.deepEqual(ctx.warnings, []);
});
