/**
 * `redis_broker` URLs: `redis://[user:password@]host[:port][/db]`, or `rediss://`
 * for TLS. Parsed by hand so that the password never reaches a message: every
 * text shown to people goes through {@link redactBroker}.
 *
 * @module
 */

/** Where and how to connect. */
export interface Broker {
  host: string;
  port: number;
  db: number;
  /** Redis 6 ACL user; undefined for the `default` user. */
  username?: string;
  password?: string;
  tls: boolean;
  /** The URL with the password replaced by `***`, for messages. */
  redacted: string;
}

/**
 * Parses a broker URL; throws an Error whose message never holds the password.
 *
 * chihaya took the whole userinfo as the password (`redis://secret@host`); that
 * still works. `user:password@` is a Redis 6 ACL login, `:password@` the default
 * user's password.
 *
 * @example
 * ```ts
 * parseBroker("redis://app:s3cret@10.0.0.5:6380/2");
 * // { host: "10.0.0.5", port: 6380, db: 2, username: "app", password: "s3cret", tls: false, ... }
 * ```
 */
export function parseBroker(url: string): Broker {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(?:([^@/]*)@)?([^/?#]*)(\/[^?#]*)?$/.exec(url.trim());
  const redacted = redactBroker(url);
  if (m === null) throw new Error(`not a redis URL like redis://[user:password@]host:port/db: "${redacted}"`);
  const scheme = m[1].toLowerCase();
  if (scheme !== "redis" && scheme !== "rediss") {
    throw new Error(`no redis scheme found in "${redacted}": use redis:// or rediss:// (TLS)`);
  }
  let username: string | undefined;
  let password: string | undefined;
  if (m[2] !== undefined && m[2] !== "") {
    const colon = m[2].indexOf(":");
    if (colon < 0) password = decode(m[2]);
    else {
      username = decode(m[2].slice(0, colon)) || undefined;
      password = decode(m[2].slice(colon + 1)) || undefined;
    }
  }
  const hostPort = m[3];
  let host = hostPort;
  let portText = "";
  if (hostPort.startsWith("[")) {
    const end = hostPort.indexOf("]");
    if (end < 0) throw new Error(`bad IPv6 host in "${redacted}"`);
    host = hostPort.slice(1, end);
    const rest = hostPort.slice(end + 1);
    if (rest !== "" && !rest.startsWith(":")) throw new Error(`bad host in "${redacted}"`);
    portText = rest.slice(1);
  } else {
    const colon = hostPort.lastIndexOf(":");
    if (colon >= 0) {
      host = hostPort.slice(0, colon);
      portText = hostPort.slice(colon + 1);
    }
  }
  if (host === "") host = "127.0.0.1";
  let port = 6379;
  if (portText !== "") {
    port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
      throw new Error(`bad port "${portText}" in "${redacted}"`);
    }
  }
  let db = 0;
  const path = (m[4] ?? "").replace(/^\/+/, "");
  if (path !== "") {
    if (!/^\d+$/.test(path)) throw new Error(`bad database number "${path}" in "${redacted}"`);
    db = Number(path);
  }
  return { host, port, db, username, password, tls: scheme === "rediss", redacted };
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The URL with its password (or chihaya-style lone secret) replaced by `***`.
 *
 * @example
 * ```ts
 * redactBroker("redis://app:s3cret@host:6379/0"); // "redis://app:***@host:6379/0"
 * ```
 */
export function redactBroker(url: string): string {
  return url.replace(/^([^:/]*:\/\/)([^@/]*)@/, (_all, scheme: string, info: string) => {
    if (info === "") return `${scheme}@`;
    const colon = info.indexOf(":");
    return colon < 0 ? `${scheme}***@` : `${scheme}${info.slice(0, colon)}:***@`;
  });
}
