import { test } from "node:test";
import assert from "node:assert/strict";
import { HTTPFrontend, MAX_REQUEST_TARGET } from "../../../src/frontend/http/frontend.ts";
import { silentLogger } from "../../../src/log.ts";
import { bareLogic, memoryStore } from "../../helpers/fixtures.ts";

test("http hygiene: a request target over 8 KiB is refused unparsed, one at the cap is parsed", async () => {
  const { store } = memoryStore();
  const logic = bareLogic(store);
  const http = new HTTPFrontend({
    allowIPSpoofing: false,
    realIPHeader: "",
    maxNumWant: 50,
    defaultNumWant: 50,
    maxScrapeInfoHashes: 50,
    announceRoutes: ["/announce"],
    scrapeRoutes: ["/scrape"],
    enableKeepalive: false,
    logic,
    log: silentLogger,
  });
  const prefix = "/announce?x=";
  const long = await http.fetch(
    new Request(`http://t${prefix}${"a".repeat(MAX_REQUEST_TARGET - prefix.length + 1)}`),
    "10.0.0.1",
  );
  assert.equal(long.status, 200);
  assert.equal(await long.text(), "d14:failure reason16:request too longe");
  const atCap = await http.fetch(
    new Request(`http://t${prefix}${"a".repeat(MAX_REQUEST_TARGET - prefix.length)}`),
    "10.0.0.1",
  );
  assert.equal(atCap.status, 200);
  assert.match(await atCap.text(), /no info_hash/);
  store.stop();
});
