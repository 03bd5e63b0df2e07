/**
 * IP addresses as raw bytes: 4 for IPv4, 16 for IPv6. IPv4-mapped IPv6 addresses
 * (`::ffff:a.b.c.d`) are always normalised to their 4-byte form so that one client
 * is one peer whichever socket family it arrived on.
 *
 * @module
 */
import { allocBytes, copyBytes } from "./bytes.ts";

/** Address family of a peer: 4 (IPv4) or 6 (IPv6). */
export type AddressFamily = 4 | 6;

/** The family of a 4- or 16-byte address. */
export function familyOf(ip: Uint8Array): AddressFamily {
  return ip.length === 4 ? 4 : 6;
}

/** `IPv4` / `IPv6`, the label chihaya uses in logs and metrics. */
export function familyName(family: AddressFamily): "IPv4" | "IPv6" {
  return family === 4 ? "IPv4" : "IPv6";
}

function parseIPv4(s: string, out: Uint8Array, at: number): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return false;
      out[at + part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      // Leading zeros are ambiguous (octal in some parsers): refuse them as Go does.
      if (digits > 0 && value === 0) return false;
      value = value * 10 + (c - 0x30);
      if (value > 255 || ++digits > 3) return false;
    } else {
      return false;
    }
  }
  return part === 4;
}

function parseIPv6(s: string): Uint8Array | null {
  const out = allocBytes(16);
  const groups: number[] = [];
  let gap = -1;
  let i = 0;
  if (s.startsWith("::")) {
    gap = 0;
    i = 2;
    if (s.length === 2) return out;
  }
  while (i < s.length) {
    let j = i;
    let value = 0;
    while (j < s.length && j - i < 5) {
      const c = s.charCodeAt(j);
      const d = c >= 0x30 && c <= 0x39
        ? c - 0x30
        : c >= 0x61 && c <= 0x66
        ? c - 0x57
        : c >= 0x41 && c <= 0x46
        ? c - 0x37
        : -1;
      if (d < 0) break;
      value = value * 16 + d;
      j++;
    }
    if (j < s.length && s.charCodeAt(j) === 0x2e) {
      // Trailing dotted IPv4 part, as in ::ffff:1.2.3.4.
      const v4 = new Uint8Array(4);
      if (!parseIPv4(s.slice(i), v4, 0) || groups.length > 6) return null;
      groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      i = s.length;
      break;
    }
    if (j === i || j - i > 4) return null;
    groups.push(value);
    if (groups.length > 8) return null;
    i = j;
    if (i === s.length) break;
    if (s.charCodeAt(i) !== 0x3a) return null;
    i++;
    if (i < s.length && s.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return null;
      gap = groups.length;
      i++;
      if (i === s.length) break;
    } else if (i === s.length) {
      return null;
    }
  }
  if (gap < 0 ? groups.length !== 8 : groups.length > 7) return null;
  const tail = gap < 0 ? 0 : groups.length - gap;
  for (let g = 0; g < groups.length; g++) {
    const pos = gap >= 0 && g >= gap ? 8 - tail + (g - gap) : g;
    out[pos * 2] = groups[g] >> 8;
    out[pos * 2 + 1] = groups[g] & 0xff;
  }
  return out;
}

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** True when a 16-byte address is IPv4-mapped (`::ffff:a.b.c.d`). */
export function isMappedIPv4(ip: Uint8Array): boolean {
  if (ip.length !== 16) return false;
  for (let i = 0; i < 12; i++) if (ip[i] !== MAPPED_PREFIX[i]) return false;
  return true;
}

/** Returns the 4-byte form of an IPv4-mapped address, or the address itself. */
export function normalizeIP(ip: Uint8Array): Uint8Array {
  return isMappedIPv4(ip) ? copyBytes(ip, 12, 16) : ip;
}

/**
 * Parses a textual IPv4 or IPv6 address (brackets allowed around IPv6) into bytes,
 * or returns null. IPv4-mapped IPv6 comes back as 4 bytes.
 *
 * @example
 * ```ts
 * parseIP("::ffff:127.0.0.1"); // Uint8Array [127, 0, 0, 1]
 * parseIP("not an ip"); // null
 * ```
 */
export function parseIP(text: string): Uint8Array | null {
  let s = text;
  if (s.length > 2 && s.charCodeAt(0) === 0x5b && s.charCodeAt(s.length - 1) === 0x5d) {
    s = s.slice(1, -1);
  }
  if (s.length === 0 || s.length > 45) return null;
  if (s.indexOf(":") < 0) {
    const out = allocBytes(4);
    return parseIPv4(s, out, 0) ? out : null;
  }
  const v6 = parseIPv6(s);
  return v6 === null ? null : normalizeIP(v6);
}

/**
 * Formats 4 or 16 address bytes as text (RFC 5952 for IPv6).
 *
 * @example
 * ```ts
 * formatIP(new Uint8Array([127, 0, 0, 1])); // "127.0.0.1"
 * ```
 */
export function formatIP(ip: Uint8Array): string {
  if (ip.length === 4) return `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}`;
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((ip[i] << 8) | ip[i + 1]);
  // Longest run of two or more zero groups becomes "::".
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/**
 * False for addresses no peer can be reached at: unspecified (0.0.0.0, ::),
 * multicast, and the IPv4 broadcast address.
 */
export function isUsableIP(ip: Uint8Array): boolean {
  if (ip.length === 4) {
    if (ip[0] === 0 && ip[1] === 0 && ip[2] === 0 && ip[3] === 0) return false;
    if (ip[0] >= 224 && ip[0] <= 239) return false;
    return !(ip[0] === 255 && ip[1] === 255 && ip[2] === 255 && ip[3] === 255);
  }
  if (ip[0] === 0xff) return false;
  for (let i = 0; i < 16; i++) if (ip[i] !== 0) return true;
  return false;
}

/**
 * The key that per-address limits count under: the address for IPv4, its /64 for
 * IPv6 (one subscriber usually holds a whole /64).
 *
 * @example
 * ```ts
 * addressKey(parseIP("2001:db8::1")!) === addressKey(parseIP("2001:db8::2")!); // true
 * ```
 */
export function addressKey(ip: Uint8Array): string {
  const n = ip.length === 4 ? 4 : 8;
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(ip[i]);
  return s;
}
