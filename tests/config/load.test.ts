import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadConfig, type LoadOptions, parseHostPort } from "../../src/config/load.ts";
import { ConfigError, OptionsReader } from "../../src/config/options.ts";

const STORES = ["memory", "redis"];
const HOOKS = [
  "jwt",
  "client approval",
  "torrent approval",
  "interval variation",
  "fixed peers",
  "rate limit",
];

function load(text: string, opts: Partial<LoadOptions> = {}) {
  return loadConfig(text, { path: "config.yaml", ...opts });
}

/** Asserts that loading throws a ConfigError whose message matches. */
function fails(text: string, message: RegExp | string, opts: Partial<LoadOptions> = {}) {
  assert.throws(() => load(text, opts), (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

/** A minimal valid file with `body` (indented by two spaces) added under chihaya:. */
function cfg(body = ""): string {
  return `chihaya:\n  announce_interval: 30m\n  storage:\n    name: memory\n${body}`;
}

const HTTP = `  http:
    addr: 0.0.0.0:6969
    announce_routes: ["/announce"]
    scrape_routes: ["/scrape"]
`;

// ---------------------------------------------------------------- top level

test("minimal config: defaults as chihaya", () => {
  const { config, warnings } = load(cfg());
  assert.deepEqual(warnings, []);
  assert.equal(config.announceInterval, 1_800_000);
  assert.equal(config.minAnnounceInterval, 0);
  assert.equal(config.metricsAddr, "");
  assert.equal(config.http, undefined);
  assert.equal(config.udp, undefined);
  assert.equal(config.storage.name, "memory");
  assert.deepEqual(config.storage.config, {});
  assert.equal(config.storage.where, "config.yaml:3");
  assert.equal(config.storage.path, "storage.config");
  assert.deepEqual(config.prehooks, []);
  assert.deepEqual(config.posthooks, []);
});

test("announce_interval is required and names the key", () => {
  fails(
    "chihaya:\n  storage:\n    name: memory\n",
    /^announce_interval: missing; set how often clients should announce, e\.g\. announce_interval: 30m \(config\.yaml:1\)$/,
  );
  fails("chihaya:\n  announce_interval:\n  storage: {name: memory}\n", /^announce_interval: missing/);
});

test("announce_interval must be at least a second; min_announce_interval must not exceed it", () => {
  fails(
    "chihaya:\n  announce_interval: 0\n  storage: {name: memory}\n",
    /^announce_interval: must be at least 1s .*\(config\.yaml:2\)$/,
  );
  fails(
    "chihaya:\n  announce_interval: 500ms\n  storage: {name: memory}\n",
    /^announce_interval: must be at least 1s/,
  );
  fails(
    "chihaya:\n  announce_interval: 1h\n  min_announce_interval: 2h\n  storage: {name: memory}\n",
    /^min_announce_interval: is longer than announce_interval.*\(config\.yaml:3\)$/,
  );
  const { config } = load(
    "chihaya:\n  announce_interval: 1h\n  min_announce_interval: 1h\n  storage: {name: memory}\n",
  );
  assert.equal(config.minAnnounceInterval, 3_600_000);
});

test("announce_interval: wrong type is an error with the line", () => {
  fails(
    "chihaya:\n  announce_interval: true\n  storage: {name: memory}\n",
    `announce_interval: expected a duration like "3m", got true (config.yaml:2)`,
  );
});

test("a bare integer duration is nanoseconds, with a warning", () => {
  const { config, warnings } = load(cfg("  min_announce_interval: 900000000000\n"));
  assert.equal(config.minAnnounceInterval, 900_000);
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /^min_announce_interval: the bare number 900000000000 is read as nanoseconds \(15m\)/,
  );
});

test("YAML syntax errors are ConfigErrors with file:line", () => {
  fails("chihaya:\n  announce_interval: 30m\n  http: [1\n", /^YAML syntax error: .* \(config\.yaml:\d+\)$/);
  fails(
    "chihaya:\n  announce_interval: 30m\n\thttp: {}\n",
    /^YAML syntax error: Tabs are not allowed.* \(config\.yaml:3\)$/,
  );
  fails(
    "chihaya:\n  announce_interval: 30m\n  announce_interval: 15m\n",
    /^YAML syntax error: Map keys must be unique .*\(config\.yaml:3\)$/,
  );
  fails("chihaya:\n  storage: 'x\n", /^YAML syntax error: Missing closing 'quote/);
});

test("the top-level chihaya: key is required", () => {
  fails("", /^config\.yaml: the file is empty; put the tracker settings under a top-level chihaya: key/);
  fails("# only a comment\n", /the file is empty/);
  fails(
    "announce_interval: 30m\n",
    /^missing top-level key chihaya: \(config\.yaml:1\); .*hayate: is accepted too/,
  );
  fails("- a\n- b\n", /^config\.yaml: expected a map at the top level, got a list/);
  fails(
    "chihaya:\n",
    /^chihaya: is empty; add at least announce_interval and storage under it \(config\.yaml:1\)$/,
  );
  fails("chihaya: 5\n", /^chihaya: expected a map of settings .*got 5 \(config\.yaml:1\)$/);
});

test("hayate: is an alias of chihaya:; both at once is an error", () => {
  const text = cfg().replace("chihaya:", "hayate:");
  assert.equal(load(text).config.announceInterval, 1_800_000);
  fails(
    `${cfg()}hayate:\n  announce_interval: 1m\n`,
    /^hayate: found both chihaya: and hayate: at the top level; .*keep only one \(config\.yaml:5\)$/,
  );
});

test("unknown top-level keys are warnings that say where settings go", () => {
  const { warnings } = load(`${cfg()}max_numwant: 100\nchihayaa: {}\n`);
  assert.deepEqual(warnings, [
    "unknown key max_numwant (config.yaml:5) is ignored; tracker settings go under chihaya:",
    "unknown key chihayaa (config.yaml:6) is ignored; tracker settings go under chihaya:, did you mean chihaya?",
  ]);
});

test("unknown keys inside chihaya: are warnings with the dotted key and line", () => {
  const { warnings } = load(cfg("  announce_intervall: 5m\n  max_numwant: 100\n"));
  assert.deepEqual(warnings, [
    "unknown key announce_intervall (config.yaml:5) is ignored; did you mean announce_interval?",
    "unknown key max_numwant (config.yaml:6) is ignored",
  ]);
});

test("metrics_addr: empty means off; otherwise host:port", () => {
  assert.equal(load(cfg(`  metrics_addr: "0.0.0.0:6880"\n`)).config.metricsAddr, "0.0.0.0:6880");
  assert.equal(load(cfg(`  metrics_addr: ""\n`)).config.metricsAddr, "");
  fails(
    cfg("  metrics_addr: 6880\n"),
    /^metrics_addr: "6880" is not a host:port address \(missing ":port"\).*\(config\.yaml:5\)$/,
  );
});

test("metrics_addr may not share a TCP port with the HTTP listeners", () => {
  fails(
    cfg(`  metrics_addr: ":6969"\n${HTTP}`),
    /^metrics_addr: :6969 uses the same TCP port as http\.addr 0\.0\.0\.0:6969; give metrics_addr another port/,
  );
  // Different ports, or a port shared only with UDP, are fine.
  load(cfg(`  metrics_addr: ":6880"\n${HTTP}  udp:\n    addr: ":6880"\n`));
  // Two specific IPv4 addresses do not clash.
  load(cfg(`  metrics_addr: 127.0.0.1:6969\n${HTTP.replace("0.0.0.0:6969", "10.0.0.1:6969")}`));
});

// ---------------------------------------------------------------- http

test("http: defaults as chihaya", () => {
  const { config, warnings } = load(cfg(HTTP));
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.http, {
    addr: "0.0.0.0:6969",
    httpsAddr: "",
    tlsCertPath: "",
    tlsKeyPath: "",
    readTimeout: 2_000,
    writeTimeout: 2_000,
    idleTimeout: 30_000,
    maxConnections: 16384,
    maxConnectionsPerIP: 256,
    enableKeepalive: false,
    enableRequestTiming: false,
    announceRoutes: ["/announce"],
    scrapeRoutes: ["/scrape"],
    allowIPSpoofing: false,
    realIPHeader: "",
    maxNumWant: 100,
    defaultNumWant: 50,
    maxScrapeInfoHashes: 50,
    allowFullScrape: false,
    transport: "auto",
  });
});

test("http: a null block is the same as no block", () => {
  assert.equal(load(cfg("  http:\n")).config.http, undefined);
});

test("http: must specify addr or https_addr or both", () => {
  fails(
    cfg(`  http:\n    announce_routes: ["/a"]\n    scrape_routes: ["/s"]\n`),
    /^http: must specify addr or https_addr or both; remove the http block to turn HTTP off \(config\.yaml:5\)$/,
  );
});

test("http: must specify routes, naming the missing list", () => {
  fails(
    cfg(`  http:\n    addr: ":6969"\n    scrape_routes: ["/scrape"]\n`),
    /^http: must specify routes; add announce_routes, e\.g\. announce_routes: \["\/announce"\] \(config\.yaml:5\)$/,
  );
  fails(
    cfg(`  http:\n    addr: ":6969"\n    announce_routes: ["/announce"]\n    scrape_routes: []\n`),
    /^http: must specify routes; add scrape_routes/,
  );
});

test("http: routes must begin with / and may not repeat", () => {
  fails(
    cfg(`  http:\n    addr: ":6969"\n    announce_routes: ["announce"]\n    scrape_routes: ["/scrape"]\n`),
    /^http\.announce_routes\[0\]: route "announce" must begin with "\/", e\.g\. "\/announce"/,
  );
  fails(
    cfg(`  http:\n    addr: ":6969"\n    announce_routes: ["/a"]\n    scrape_routes: ["/a"]\n`),
    /^http\.scrape_routes\[0\]: route "\/a" is already used by http\.announce_routes\[0\]/,
  );
});

test("http: TLS keys and https_addr go together (chihaya's strings, prefixed and located)", () => {
  fails(
    cfg(
      `  http:\n    https_addr: ":443"\n    tls_cert_path: /c.pem\n    announce_routes: ["/a"]\n    scrape_routes: ["/s"]\n`,
    ),
    "http: must specify tls_cert_path and tls_key_path when using https_addr (config.yaml:6)",
  );
  fails(
    cfg(`${HTTP}    tls_cert_path: /c.pem\n    tls_key_path: /k.pem\n`),
    "http: must specify https_addr when using tls_cert_path and tls_key_path (config.yaml:9)",
  );
  fails(
    cfg(`${HTTP}    tls_key_path: /k.pem\n`),
    /^http: must specify https_addr when using tls_cert_path and tls_key_path \(config\.yaml:9\)$/,
  );
});

test("http: unlike chihaya, only https_addr is a valid setup", () => {
  const { config } = load(
    cfg(
      `  http:\n    https_addr: "[::]:443"\n    tls_cert_path: /c.pem\n    tls_key_path: /k.pem\n    announce_routes: ["/a"]\n    scrape_routes: ["/s"]\n`,
    ),
  );
  assert.equal(config.http?.addr, "");
  assert.equal(config.http?.httpsAddr, "[::]:443");
  assert.equal(config.http?.tlsCertPath, "/c.pem");
});

test("http: addr and https_addr cannot share a port", () => {
  fails(
    cfg(`${HTTP}    https_addr: ":6969"\n    tls_cert_path: /c\n    tls_key_path: /k\n`),
    /^http\.https_addr: :6969 uses the same TCP port as http\.addr 0\.0\.0\.0:6969/,
  );
});

test("http: bad addresses name the key and line", () => {
  fails(
    cfg(HTTP.replace("0.0.0.0:6969", "http://0.0.0.0:6969/announce")),
    /^http\.addr: .*looks like a URL.*\(config\.yaml:6\)$/,
  );
  fails(
    cfg(HTTP.replace("0.0.0.0:6969", "0.0.0.0")),
    /^http\.addr: "0\.0\.0\.0" is not a host:port address \(missing ":port"\)/,
  );
  fails(cfg(HTTP.replace("0.0.0.0:6969", "::1:6969")), /^http\.addr: .*put an IPv6 address in brackets/);
  fails(
    cfg(HTTP.replace("0.0.0.0:6969", "0.0.0.0:70000")),
    /^http\.addr: .*port "70000" is not a number from 0 to 65535/,
  );
});

test("http: ≤ 0 numbers and durations fall back to the defaults, with warnings", () => {
  const { config, warnings } = load(
    cfg(`${HTTP}    read_timeout: 0s\n    max_numwant: 0\n    default_numwant: 0\n`),
  );
  assert.equal(config.http?.readTimeout, 2_000);
  assert.equal(config.http?.maxNumWant, 100);
  assert.equal(config.http?.defaultNumWant, 50);
  assert.equal(warnings.length, 3);
  assert.equal(
    warnings[0],
    `http.read_timeout: "0s" is not positive; falling back to the default 2s (config.yaml:9)`,
  );
});

test("http: every key is read", () => {
  const { config, warnings } = load(cfg(`  http:
    addr: "[::]:80"
    https_addr: ""
    tls_cert_path: ""
    tls_key_path: ""
    read_timeout: 5s
    write_timeout: 6s
    idle_timeout: 1m
    max_connections: 1000
    max_connections_per_ip: 10
    enable_keepalive: yes
    enable_request_timing: true
    announce_routes: ["/announce", "/announce/:passkey"]
    scrape_routes: ["/scrape"]
    allow_ip_spoofing: true
    real_ip_header: X-Real-IP
    max_numwant: 200
    default_numwant: 30
    max_scrape_infohashes: 74
    allow_full_scrape: true
    transport: deno
`));
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.http, {
    addr: "[::]:80",
    httpsAddr: "",
    tlsCertPath: "",
    tlsKeyPath: "",
    readTimeout: 5_000,
    writeTimeout: 6_000,
    idleTimeout: 60_000,
    maxConnections: 1000,
    maxConnectionsPerIP: 10,
    enableKeepalive: true, // YAML 1.1 "yes", as chihaya's yaml.v2 reads it
    enableRequestTiming: true,
    announceRoutes: ["/announce", "/announce/:passkey"],
    scrapeRoutes: ["/scrape"],
    allowIPSpoofing: true,
    realIPHeader: "X-Real-IP",
    maxNumWant: 200,
    defaultNumWant: 30,
    maxScrapeInfoHashes: 74,
    allowFullScrape: true,
    transport: "deno",
  });
});

test("http: default_numwant above max_numwant is an error", () => {
  fails(
    cfg(`${HTTP}    max_numwant: 20\n    default_numwant: 50\n`),
    /^http\.default_numwant: 50 is larger than max_numwant \(20\); lower default_numwant or raise max_numwant \(config\.yaml:10\)$/,
  );
});

test("http: unknown keys are warnings", () => {
  const { warnings } = load(cfg(`${HTTP}    adr: x\n    enable_legacy_php_urls: true\n`));
  assert.deepEqual(warnings, [
    "unknown key http.adr (config.yaml:9) is ignored; did you mean http.addr?",
    "unknown key http.enable_legacy_php_urls (config.yaml:10) is ignored",
  ]);
});

test("http: wrong types name the key and line", () => {
  fails(
    cfg(`${HTTP}    enable_keepalive: "true"\n`),
    /^http\.enable_keepalive: expected true or false, got "true" \(a quoted string\) \(config\.yaml:9\)$/,
  );
  fails(
    cfg(`${HTTP}    max_numwant: lots\n`),
    /^http\.max_numwant: expected a whole number ≥ 0, got "lots" \(config\.yaml:9\)$/,
  );
  fails(cfg(HTTP.replace(`["/announce"]`, `"/announce"`)), /^http\.announce_routes: expected a list/);
  fails(
    cfg("  http: [1]\n"),
    /^http: expected a map \(indented key: value lines\), got a list \(config\.yaml:5\)$/,
  );
});

// ---------------------------------------------------------------- udp

test("udp: defaults, and a generated 64-character private key", () => {
  const { config, warnings } = load(cfg(`  udp:\n    addr: "[::]:6969"\n`));
  assert.deepEqual(warnings, []);
  const udp = config.udp!;
  assert.match(udp.privateKey, /^[a-zA-Z0-9]{64}$/);
  assert.deepEqual({ ...udp, privateKey: "" }, {
    addr: "[::]:6969",
    privateKey: "",
    privateKeyGenerated: true,
    maxClockSkew: 10_000,
    connectionIDLifetime: 120_000,
    enableRequestTiming: false,
    allowIPSpoofing: false,
    maxNumWant: 100,
    defaultNumWant: 50,
    maxScrapeInfoHashes: 50,
    transport: "auto",
  });
  const again = load(cfg(`  udp:\n    addr: "[::]:6969"\n    private_key: ""\n`)).config.udp!;
  assert.notEqual(again.privateKey, udp.privateKey);
  assert.equal(again.privateKeyGenerated, true);
});

test("udp: every key is read", () => {
  const { config, warnings } = load(cfg(`  udp:
    addr: 0.0.0.0:9252
    private_key: 0123
    max_clock_skew: 0s
    connection_id_lifetime: 5m
    enable_request_timing: true
    allow_ip_spoofing: true
    max_numwant: 200
    default_numwant: 20
    max_scrape_infohashes: 101
    transport: ffi
`));
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.udp, {
    addr: "0.0.0.0:9252",
    privateKey: "0123", // as written, although YAML 1.1 reads 0123 as octal
    privateKeyGenerated: false,
    maxClockSkew: 0, // an explicit 0 is kept
    connectionIDLifetime: 300_000,
    enableRequestTiming: true,
    allowIPSpoofing: true,
    maxNumWant: 200,
    defaultNumWant: 20,
    maxScrapeInfoHashes: 101,
    transport: "ffi",
  });
});

test("udp: addr is required in a udp block", () => {
  fails(
    cfg("  udp:\n    max_numwant: 5\n"),
    /^udp: must specify addr, e\.g\. addr: 0\.0\.0\.0:6969; remove the udp block to turn UDP off \(config\.yaml:5\)$/,
  );
  fails(cfg("  udp:\n    addr: localhost\n"), /^udp\.addr: "localhost" is not a host:port address/);
});

test("udp: max_scrape_infohashes is capped at 101 and says why", () => {
  fails(
    cfg("  udp:\n    addr: :6969\n    max_scrape_infohashes: 102\n"),
    /^udp\.max_scrape_infohashes: 102 is too large; use at most 101: a UDP scrape is read into a 2048-byte buffer.*\(config\.yaml:7\)$/,
  );
});

test("udp: max_numwant must fit one datagram; default_numwant ≤ max_numwant", () => {
  fails(
    cfg("  udp:\n    addr: :6969\n    max_numwant: 4000\n"),
    /^udp\.max_numwant: 4000 is too large; use at most 3638/,
  );
  fails(
    cfg("  udp:\n    addr: :6969\n    max_numwant: 10\n"),
    /^udp\.default_numwant: 50 is larger than max_numwant \(10\)/,
  );
});

test("http: transport is auto (the default), ffi or deno", () => {
  assert.equal(load(cfg(HTTP)).config.http?.transport, "auto");
  assert.equal(load(cfg(HTTP + "    transport: ffi\n")).config.http?.transport, "ffi");
  const line = 5 + HTTP.split("\n").length - 1;
  fails(
    cfg(HTTP + "    transport: epoll\n"),
    new RegExp(
      `^http\\.transport: "epoll" is not a transport; use auto \\(the default\\), ffi or deno \\(config\\.yaml:${line}\\)$`,
    ),
  );
});

test("udp: transport is auto, ffi or deno", () => {
  assert.equal(load(cfg("  udp:\n    addr: :6969\n    transport: deno\n")).config.udp?.transport, "deno");
  fails(
    cfg("  udp:\n    addr: :6969\n    transport: epoll\n"),
    /^udp\.transport: "epoll" is not a transport; use auto \(the default\), ffi or deno \(config\.yaml:7\)$/,
  );
});

test("udp: connection_id_lifetime needs at least a second; 0 falls back", () => {
  fails(
    cfg("  udp:\n    addr: :6969\n    connection_id_lifetime: 500ms\n"),
    /^udp\.connection_id_lifetime: "500ms" is too short; use at least 1s/,
  );
  const { config, warnings } = load(cfg("  udp:\n    addr: :6969\n    connection_id_lifetime: 0s\n"));
  assert.equal(config.udp?.connectionIDLifetime, 120_000);
  assert.equal(warnings.length, 1);
});

test("udp: chihaya's placeholder private key draws a warning without echoing it", () => {
  const { config, warnings } = load(
    cfg(
      `  udp:\n    addr: :6969\n    private_key: "paste a random string here that will be used to hmac connection IDs"\n`,
    ),
  );
  assert.equal(config.udp?.privateKeyGenerated, false);
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /^udp\.private_key: is the placeholder text of chihaya's example config.*\(config\.yaml:7\)$/,
  );
  assert.ok(!warnings[0].includes("paste a random"));
});

test("udp: unknown keys are warnings", () => {
  const { warnings } = load(cfg("  udp:\n    addr: :6969\n    privat_key: x\n"));
  assert.deepEqual(warnings, [
    "unknown key udp.privat_key (config.yaml:7) is ignored; did you mean udp.private_key?",
  ]);
});

// ---------------------------------------------------------------- storage

test("storage: required, with a name", () => {
  fails(
    "chihaya:\n  announce_interval: 30m\n",
    /^storage: missing; add a storage block, e\.g\. storage: \{name: memory\} \(config\.yaml:1\)$/,
  );
  fails(
    "chihaya:\n  announce_interval: 30m\n  storage:\n    config: {}\n",
    /^storage\.name: missing; name the peer store driver, e\.g\. name: memory \(config\.yaml:3\)$/,
  );
  fails(
    "chihaya:\n  announce_interval: 30m\n  storage: memory\n",
    /^storage: expected a map .*got "memory" \(config\.yaml:3\)$/,
  );
});

test("storage: an unknown driver lists the known ones", () => {
  fails(
    cfg().replace("name: memory", "name: memroy"),
    `storage.name: peer store driver with that name does not exist: "memroy"; did you mean "memory"?; known: "memory", "redis" (config.yaml:4)`,
    { knownStores: STORES },
  );
  // Without a list of drivers, any name passes (the caller checks later).
  assert.equal(load(cfg().replace("name: memory", "name: custom")).config.storage.name, "custom");
});

test("storage: config is passed through raw and stays readable with lines", () => {
  const { config, warnings } = load(
    cfg(
      `    config:\n      gc_interval: 3m\n      peer_lifetime: true\n      shard_count: 1024\n      extra: [1, 2]\n`,
    ),
  );
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.storage.config, {
    gc_interval: "3m",
    peer_lifetime: true,
    shard_count: 1024,
    extra: [1, 2],
  });
  // The store validates its own options with an OptionsReader.
  const store: string[] = [];
  const r = new OptionsReader(config.storage.config, config.storage.path!, store);
  assert.equal(r.duration("gc_interval", 1), 180_000);
  assert.throws(() => r.duration("peer_lifetime", 1), {
    message: `storage.config.peer_lifetime: expected a duration like "3m", got true (config.yaml:7)`,
  });
  r.uint("shard_count", 1024);
  r.finish();
  assert.deepEqual(store, ["unknown key storage.config.extra (config.yaml:9) is ignored"]);
});

test("storage: config must be a map; unknown storage keys are warnings", () => {
  fails(cfg("    config: [1]\n"), /^storage\.config: expected a map .*got a list \(config\.yaml:5\)$/);
  const { warnings } = load(cfg("    options: {}\n"));
  assert.deepEqual(warnings, ["unknown key storage.options (config.yaml:5) is ignored"]);
});

// ---------------------------------------------------------------- hooks

test("hooks: name and raw options, in order, with their location", () => {
  const { config, warnings } = load(
    cfg(`  prehooks:
    - name: client approval
      options:
        whitelist: ["OP1011"]
    - name: interval variation
  posthooks:
    - name: jwt
      options: {issuer: "https://issuer.example.com"}
`),
    { knownHooks: HOOKS },
  );
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.prehooks.map((h) => [h.name, h.options, h.where, h.path]), [
    ["client approval", { whitelist: ["OP1011"] }, "config.yaml:6", "prehooks[0].options"],
    ["interval variation", {}, "config.yaml:9", "prehooks[1].options"],
  ]);
  assert.equal(config.posthooks[0].name, "jwt");
  assert.deepEqual(config.posthooks[0].options, { issuer: "https://issuer.example.com" });
  // A hook reads its options with an OptionsReader; messages point into the file.
  const r = new OptionsReader(config.prehooks[1].options, "ignored", []);
  assert.equal(
    r.error("max_increase_delta", "missing").message,
    "prehooks[1].options.max_increase_delta: missing (config.yaml:9)",
  );
});

test("hooks: an empty prehooks: (as in chihaya's example) is an empty list", () => {
  assert.deepEqual(load(cfg("  prehooks:\n  posthooks: []\n")).config.prehooks, []);
});

test("hooks: an unknown name lists the known ones", () => {
  fails(
    cfg(`  prehooks:\n    - name: client aproval\n`),
    /^prehooks\[0\]\.name: middleware driver with that name does not exist: "client aproval"; did you mean "client approval"\?; known: "jwt", "client approval", .*"rate limit" \(config\.yaml:6\)$/,
    { knownHooks: HOOKS },
  );
});

test("hooks: `config:` instead of `options:` is a warning saying to use options:", () => {
  const { config, warnings } = load(
    cfg(`  prehooks:\n    - name: interval variation\n      config:\n        max_increase_delta: 60\n`),
  );
  assert.deepEqual(config.prehooks[0].options, {});
  assert.deepEqual(warnings, [
    "prehooks[0].config: is ignored: hook options go under options:, not config: (rename the key) (config.yaml:7)",
  ]);
});

test("hooks: unknown keys in an entry are warnings; bad shapes are errors", () => {
  const { warnings } = load(cfg(`  posthooks:\n    - name: jwt\n      option: {}\n`));
  assert.deepEqual(warnings, [
    "unknown key posthooks[0].option (config.yaml:7) is ignored; did you mean posthooks[0].options?",
  ]);
  fails(cfg("  prehooks: jwt\n"), /^prehooks: expected a list of hooks .*got "jwt" \(config\.yaml:5\)$/);
  fails(
    cfg("  prehooks:\n    - jwt\n"),
    /^prehooks\[0\]: expected a hook entry with name: and options:, got "jwt" \(config\.yaml:5\)$/,
  );
  fails(
    cfg("  prehooks:\n    - options: {}\n"),
    /^prehooks\[0\]\.name: missing; name the middleware.*\(config\.yaml:6\)$/,
  );
  fails(
    cfg("  prehooks:\n    - name: jwt\n      options: [1]\n"),
    /^prehooks\[0\]\.options: expected a map .*got a list \(config\.yaml:7\)$/,
  );
});

// ---------------------------------------------------------------- env expansion

test("env: $VAR and ${VAR} expand in string values", () => {
  const env = { HOST: "127.0.0.1", PORT: "7070", KEY: "s3cret", HDR: "x-real-ip" };
  const { config, warnings } = load(
    cfg(`  http:
    addr: $HOST:$PORT
    announce_routes: ["/\${KEY}/announce"]
    scrape_routes: ["/scrape"]
    real_ip_header: "\${HDR}"
  udp:
    addr: "[::]:\${PORT}"
    private_key: pre-\${KEY}-post
`),
    { env },
  );
  assert.deepEqual(warnings, []);
  assert.equal(config.http?.addr, "127.0.0.1:7070");
  assert.deepEqual(config.http?.announceRoutes, ["/s3cret/announce"]);
  assert.equal(config.http?.realIPHeader, "x-real-ip");
  assert.equal(config.udp?.addr, "[::]:7070");
  assert.equal(config.udp?.privateKey, "pre-s3cret-post");
});

test("env: $$ is a literal $, and a lone $ stays", () => {
  const { config } = load(cfg(`  udp:\n    addr: :6969\n    private_key: "a$$b$ c$"\n`), {
    env: { b: "NO" },
  });
  assert.equal(config.udp?.privateKey, "a$b$ c$");
});

test("env: a missing variable becomes empty, with a warning naming it (never the value)", () => {
  const { config, warnings } = load(cfg(`  udp:\n    addr: :6969\n    private_key: "$UDP_KEY"\n`), {
    env: {},
  });
  assert.equal(config.udp?.privateKeyGenerated, true);
  assert.deepEqual(warnings, [
    `udp.private_key: environment variable UDP_KEY is not set; using an empty string (write "$$" for a literal "$") (config.yaml:7)`,
  ]);
  // Without opts.env nothing is set either.
  assert.equal(load(cfg(`  metrics_addr: $METRICS\n`)).config.metricsAddr, "");
});

test("env: an unquoted value is re-read after expansion; a quoted one stays a string", () => {
  const env = { N: "200", D: "10", ON: "true", IV: "1h" };
  const { config } = load(
    `chihaya:\n  announce_interval: $IV\n  storage: {name: memory}\n` +
      `  http:\n    addr: :1\n    announce_routes: [/a]\n    scrape_routes: [/s]\n` +
      `    max_numwant: $N\n    default_numwant: \${D}\n    enable_keepalive: $ON\n`,
    { env },
  );
  assert.equal(config.announceInterval, 3_600_000);
  assert.equal(config.http?.maxNumWant, 200);
  assert.equal(config.http?.defaultNumWant, 10);
  assert.equal(config.http?.enableKeepalive, true);
  fails(cfg(`${HTTP}    max_numwant: "$N"\n`), /^http\.max_numwant: expected a whole number ≥ 0, got "200"/, {
    env,
  });
  // An unset variable in an unquoted value reads as "not set", so the default applies.
  assert.equal(load(cfg(`${HTTP}    max_numwant: $UNSET\n`)).config.http?.maxNumWant, 100);
});

test("env: malformed ${...} is an error naming the key", () => {
  fails(
    cfg(`  metrics_addr: "\${PORT"\n`),
    /^metrics_addr: unterminated "\$\{" in the value.*\(config\.yaml:5\)$/,
  );
  fails(cfg(`  metrics_addr: "\${PORT:-80}"\n`), /^metrics_addr: "\$\{PORT:-80\}" is not a variable name/);
});

test("env: keys are not expanded", () => {
  const { warnings } = load(cfg("  $X: 1\n"), { env: { X: "metrics_addr" } });
  assert.deepEqual(warnings, ["unknown key $X (config.yaml:5) is ignored"]);
});

// ---------------------------------------------------------------- YAML details

test("anchors, aliases and merge keys work as in yaml.v2", () => {
  const { config, warnings } = load(`defaults: &d
  max_numwant: 80
  default_numwant: 40
chihaya:
  announce_interval: 30m
  storage: {name: memory}
  http:
    <<: *d
    default_numwant: 20
    addr: :6969
    announce_routes: [/a]
    scrape_routes: [/s]
  udp:
    <<: *d
    addr: :6969
`);
  assert.equal(config.http?.maxNumWant, 80);
  assert.equal(config.http?.defaultNumWant, 20); // explicit keys win over merged ones
  assert.equal(config.udp?.defaultNumWant, 40);
  assert.deepEqual(warnings, [
    "unknown key defaults (config.yaml:1) is ignored; tracker settings go under chihaya:",
  ]);
  fails(cfg("  http: *nope\n"), /^http: unknown anchor \*nope; define &nope first \(config\.yaml:5\)$/);
});

test("__proto__ as a key is just an unknown key", () => {
  const { warnings } = load(cfg("  __proto__: {polluted: true}\n"));
  assert.deepEqual(warnings, ["unknown key __proto__ (config.yaml:5) is ignored"]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

// ---------------------------------------------------------------- parseHostPort

test("parseHostPort: accepted forms", () => {
  assert.deepEqual(parseHostPort("0.0.0.0:6969"), { hostname: "0.0.0.0", port: 6969 });
  assert.deepEqual(parseHostPort("[::]:6969"), { hostname: "::", port: 6969 });
  assert.deepEqual(parseHostPort("[::1]:80"), { hostname: "::1", port: 80 });
  assert.deepEqual(parseHostPort("[fe80::1%eth0]:80"), { hostname: "fe80::1%eth0", port: 80 });
  assert.deepEqual(parseHostPort(":6969"), { hostname: "", port: 6969 });
  assert.deepEqual(parseHostPort("localhost:6969"), { hostname: "localhost", port: 6969 });
  assert.deepEqual(parseHostPort("tracker.example.com:443"), { hostname: "tracker.example.com", port: 443 });
  assert.deepEqual(parseHostPort("127.0.0.1:0"), { hostname: "127.0.0.1", port: 0 });
});

test("parseHostPort: rejected forms say what is wrong", () => {
  const cases: [string, RegExp][] = [
    ["6969", /missing ":port"/],
    ["0.0.0.0", /missing ":port"/],
    ["0.0.0.0:", /missing port number/],
    [":http", /port "http" is not a number/],
    [":65536", /port "65536" is not a number from 0 to 65535/],
    ["::1:6969", /put an IPv6 address in brackets/],
    ["[::1:6969", /missing "\]"/],
    ["[::1]6969", /missing ":port" after "\]"/],
    ["[zz::1]:80", /"zz::1" is not an IPv6 address/],
    ["[1.2.3.4]:80", /is not an IPv6 address/],
    ["999.1.1.1:80", /"999\.1\.1\.1" is not a host name or IP address/],
    ["bad_host:80", /is not a host name/],
    ["udp://0.0.0.0:6969", /looks like a URL/],
  ];
  for (const [addr, re] of cases) {
    assert.throws(() => parseHostPort(addr), { message: re }, addr);
    assert.throws(() => parseHostPort(addr), {
      message: /write it like 0\.0\.0\.0:6969, \[::\]:6969 or :6969$/,
    }, addr);
  }
});

// ---------------------------------------------------------------- whole files

test("config.example.yaml loads with zero warnings", () => {
  const text = readFileSync(new URL("../../config.example.yaml", import.meta.url), "utf8");
  const { config, warnings } = loadConfig(text, {
    path: "config.example.yaml",
    env: {},
    knownStores: STORES,
    knownHooks: HOOKS,
  });
  assert.deepEqual(warnings, []);
  assert.equal(config.announceInterval, 30 * 60_000);
  assert.equal(config.minAnnounceInterval, 15 * 60_000);
  assert.equal(config.metricsAddr, "");
  assert.equal(config.http?.addr, "0.0.0.0:6969");
  assert.equal(config.udp?.addr, "0.0.0.0:6969");
  assert.equal(config.udp?.privateKeyGenerated, true);
  assert.equal(config.storage.name, "memory");
  assert.deepEqual(config.storage.config, {
    gc_interval: "3m",
    peer_lifetime: "31m",
    shard_count: 1024,
    prometheus_reporting_interval: "1s",
    max_swarms: 1000000,
    max_peers_per_swarm: 250000,
    max_peers: 4000000,
    snapshot_path: "",
    snapshot_interval: "0s",
    preferred_ipv4_subnet_mask_bits_set: 0,
    preferred_ipv6_subnet_mask_bits_set: 0,
  });
  assert.deepEqual(config.prehooks, []);
  assert.deepEqual(config.posthooks, []);
});

test("config.example.yaml: the commented-out hooks load too once uncommented", () => {
  const text = readFileSync(new URL("../../config.example.yaml", import.meta.url), "utf8");
  const uncommented = text
    .replace("  prehooks: []\n", "  prehooks:\n")
    .replace(/^ {2}# {2}(.*)$/gm, "  $1")
    .replace(/^ {2}#$/gm, "");
  const { config, warnings } = loadConfig(uncommented, {
    path: "x.yaml",
    knownStores: STORES,
    knownHooks: HOOKS,
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.prehooks.map((h) => h.name), HOOKS);
  assert.deepEqual(config.prehooks[4].options, { fixed_peers: ["203.0.113.10:4444", "[2001:db8::10]:4444"] });
});

/** chihaya's dist/example_config.yaml (comments shortened). */
const CHIHAYA_DIST_EXAMPLE = `chihaya:
  # The interval communicated with BitTorrent clients informing them how
  # frequently they should announce in between client events.
  announce_interval: "30m"
  min_announce_interval: "15m"
  metrics_addr: "0.0.0.0:6880"
  http:
    addr: "0.0.0.0:6969"
    https_addr: ""
    tls_cert_path: ""
    tls_key_path: ""
    read_timeout: "5s"
    write_timeout: "5s"
    enable_keepalive: false
    idle_timeout: "30s"
    enable_request_timing: false
    announce_routes:
      - "/announce"
      # - "/announce.php"
    scrape_routes:
      - "/scrape"
      # - "/scrape.php"
    allow_ip_spoofing: false
    real_ip_header: "x-real-ip"
    max_numwant: 100
    default_numwant: 50
    max_scrape_infohashes: 50
  udp:
    addr: "0.0.0.0:6969"
    max_clock_skew: "10s"
    private_key: "paste a random string here that will be used to hmac connection IDs"
    enable_request_timing: false
    allow_ip_spoofing: false
    max_numwant: 100
    default_numwant: 50
    max_scrape_infohashes: 50
  storage:
    name: "memory"
    config:
      gc_interval: "3m"
      peer_lifetime: "31m"
      shard_count: 1024
      prometheus_reporting_interval: "1s"
  # storage:
  #   name: redis
  #   config:
  #     redis_broker: "redis://pwd@127.0.0.1:6379/0"
  prehooks:

# - name: "jwt"
#   options:
#     issuer: "https://issuer.com"
#     audience: "https://chihaya.issuer.com"
#     jwk_set_url: "https://issuer.com/keys"
#     jwk_set_update_interval: "5m"

# - name: "client approval"
#   options:
#     whitelist:
#       - "OP1011"
#     blacklist:
#       - "OP1012"
`;

test("chihaya's dist example config loads; only the placeholder key is flagged", () => {
  const { config, warnings } = loadConfig(CHIHAYA_DIST_EXAMPLE, {
    path: "example_config.yaml",
    knownStores: STORES,
    knownHooks: HOOKS,
  });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^udp\.private_key: is the placeholder text/);
  assert.equal(config.announceInterval, 1_800_000);
  assert.equal(config.minAnnounceInterval, 900_000);
  assert.equal(config.metricsAddr, "0.0.0.0:6880");
  assert.equal(config.http?.readTimeout, 5_000);
  assert.equal(config.http?.writeTimeout, 5_000);
  assert.equal(config.http?.idleTimeout, 30_000);
  assert.equal(config.http?.realIPHeader, "x-real-ip");
  assert.deepEqual(config.http?.announceRoutes, ["/announce"]);
  assert.equal(config.udp?.maxClockSkew, 10_000);
  assert.equal(config.udp?.privateKey, "paste a random string here that will be used to hmac connection IDs");
  assert.equal(config.udp?.privateKeyGenerated, false);
  assert.equal(config.storage.config.shard_count, 1024);
  assert.deepEqual(config.prehooks, []);
});

test("lbry's UDP-only README config loads", () => {
  const { config, warnings } = load(
    `chihaya:
  announce_interval: 30m
  min_announce_interval: 15m
  metrics_addr: 0.0.0.0:6880
  udp:
    addr: 0.0.0.0:9252
    max_clock_skew: 10s
    private_key: ">>>>CHANGE THIS TO SOME RANDOM THING<<<<"
    enable_request_timing: false
    allow_ip_spoofing: false
    max_numwant: 100
    default_numwant: 50
    max_scrape_infohashes: 50
  storage:
    name: memory
    config:
      gc_interval: 3m
      peer_lifetime: 31m
      shard_count: 1024
      prometheus_reporting_interval: 1s
  prehooks:
    - name: fixed peers
      options:
        fixed_peers:
          - 8.8.8.8:4040
`,
    { knownStores: STORES, knownHooks: HOOKS },
  );
  assert.deepEqual(warnings, []);
  assert.equal(config.http, undefined);
  assert.equal(config.udp?.addr, "0.0.0.0:9252");
  assert.deepEqual(config.prehooks[0].options, { fixed_peers: ["8.8.8.8:4040"] });
});

test("chihaya's stale helm keys are warnings, not errors", () => {
  const { warnings } = load(`chihaya:
  announce_interval: 30m
  max_numwant: 50
  default_numwant: 50
  max_scrape_infohashes: 50
${HTTP}    enable_legacy_php_urls: false
  storage:
    name: memory
`);
  assert.equal(warnings.length, 4);
  for (const w of warnings) assert.match(w, /^unknown key .* \(config\.yaml:\d+\) is ignored/);
});

test("YAML 1.1 scalars read as chihaya's yaml.v2 would; strings stay as written", () => {
  const { config } = load(cfg(`${HTTP}    enable_keepalive: on\n    real_ip_header: 2024-01-01\n`));
  assert.equal(config.http?.enableKeepalive, true);
  assert.equal(config.http?.realIPHeader, "2024-01-01");
});

test("YAML warnings (such as unknown tags) are passed on with the line", () => {
  const { warnings } = load(cfg(`  metrics_addr: !weird ":6880"\n`));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^YAML: .*!weird.* \(config\.yaml:5\)$/);
});
