/**
 * The system C library through `Deno.dlopen`, for the Linux socket transports
 * (`udp/ffi.ts`: batched datagrams; `http/epoll.ts`: TCP streams on epoll): loading
 * it once, errno, socket addresses and options. Linux with glibc on x86_64 and
 * aarch64 only; needs `--allow-ffi`.
 *
 * @module
 */
import { copyBytes } from "../bittorrent/bytes.ts";
import { parseIP } from "../bittorrent/ip.ts";

/** A failed libc call: `errno`, its name where known, and the call. */
export class ErrnoError extends Error {
  constructor(readonly syscall: string, readonly errno: number, detail: string) {
    super(`${syscall}: ${detail} (errno ${errno}${ERRNO_NAMES[errno] ? " " + ERRNO_NAMES[errno] : ""})`);
    this.name = "ErrnoError";
  }
}

// Linux constants, identical on x86_64 and aarch64 (asm-generic).
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_REUSEPORT = 15;
export const SO_RCVTIMEO = 20;
export const SO_RCVBUFFORCE = 33;
export const IPPROTO_IP = 0;
export const IP_MTU_DISCOVER = 10;
export const IP_PMTUDISC_WANT = 1;
export const IP_PMTUDISC_DO = 2;
export const IPPROTO_TCP = 6;
export const TCP_NODELAY = 1;
export const IPPROTO_IPV6 = 41;
export const IPV6_V6ONLY = 26;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_WAITFORONE = 0x10000;
export const SHUT_RD = 0;
export const EINTR = 4;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const ENFILE = 23;
export const EMFILE = 24;
export const EMSGSIZE = 90;
export const EAFNOSUPPORT = 97;
export const EADDRINUSE = 98;
export const EADDRNOTAVAIL = 99;
export const ENOBUFS = 105;
/** `struct sockaddr_in6`, the largest address the transports read or write. */
export const SOCKADDR_IN6_SIZE = 28;

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  4: "EINTR",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  32: "EPIPE",
  90: "EMSGSIZE",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  101: "ENETUNREACH",
  103: "ECONNABORTED",
  104: "ECONNRESET",
  105: "ENOBUFS",
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
};

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  // On the thread pool: blocks until a datagram or the SO_RCVTIMEO timeout.
  recvmmsg: { parameters: ["i32", "pointer", "u32", "i32", "pointer"], result: "i32", nonblocking: true },
  // The same call on the JS thread with MSG_DONTWAIT, to read a real errno after the
  // pooled call fails (errno is per thread, and the pool thread's is out of reach).
  recvmmsgNow: {
    name: "recvmmsg",
    parameters: ["i32", "pointer", "u32", "i32", "pointer"],
    result: "i32",
  },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  // ssize_t read as its low 32 bits (the return register's): callers pass at most 2^30
  // bytes, so the count and -1 both survive, and an i32 result skips a conversion.
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  // On the thread pool, like recvmmsg: the event loop stays free while it waits.
  epoll_wait: { parameters: ["i32", "pointer", "i32", "i32"], result: "i32", nonblocking: true },
  // The same call on the JS thread with a timeout of 0: what is ready now, with no thread hop.
  epollWaitNow: { name: "epoll_wait", parameters: ["i32", "pointer", "i32", "i32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** libc's functions as Deno calls them. */
export type LibC = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** The loaded library and the JS thread's errno. */
export interface Loaded {
  libc: LibC;
  errno: () => number;
}

let loaded: Loaded | undefined;

/**
 * Why this platform cannot run the FFI transports, or null when it can (Linux on
 * x86_64/aarch64 with `--allow-ffi` granted). Does not load libc.
 *
 * @example
 * ```ts
 * const why = ffiUnavailable(); // e.g. "--allow-ffi is not granted"
 * ```
 */
export function ffiUnavailable(): string | null {
  if (typeof Deno === "undefined") return "the runtime is not Deno (the transport uses Deno.dlopen)";
  if (Deno.build.os !== "linux") return `the OS is ${Deno.build.os}, not linux`;
  if (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64") {
    return `the CPU is ${Deno.build.arch}, not x86_64 or aarch64`;
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return "--allow-ffi is not granted";
  return null;
}

/** Loads libc once (throws with the reason where {@link ffiUnavailable} says it cannot). */
export function loadLibC(): Loaded {
  if (loaded !== undefined) return loaded;
  const why = ffiUnavailable();
  if (why !== null) throw new Error(`the FFI transports are unavailable: ${why}`);
  // Never closed: listeners and their promises hold function pointers into it.
  const lib = Deno.dlopen("libc.so.6", SYMBOLS);
  const libc = lib.symbols;
  // The calling thread's errno lives at a fixed address for the thread's life.
  const where = libc.__errno_location();
  if (where === null) throw new Error("__errno_location returned NULL");
  const view = new Deno.UnsafePointerView(where);
  loaded = { libc, errno: () => view.getInt32(0) };
  return loaded;
}

/** An {@link ErrnoError} for `syscall` with errno's message. */
export function errnoError(l: Loaded, syscall: string, errno = l.errno()): ErrnoError {
  const msg = l.libc.strerror(errno);
  return new ErrnoError(
    syscall,
    errno,
    msg === null ? "unknown error" : Deno.UnsafePointerView.getCString(msg),
  );
}

/** Deno's error classes for the bind failures callers test for (`Deno.listen*` throws these). */
export function bindError(l: Loaded, syscall: string): Error {
  const errno = l.errno();
  const err = errnoError(l, syscall, errno);
  const options = { cause: err };
  if (errno === EADDRINUSE) return new Deno.errors.AddrInUse(err.message, options);
  if (errno === EADDRNOTAVAIL) return new Deno.errors.AddrNotAvailable(err.message, options);
  if (errno === EACCES) return new Deno.errors.PermissionDenied(err.message, options);
  return err;
}

/** The `sockaddr_in`/`sockaddr_in6` to bind `host:port` (an IP literal, IPv6 with an optional `%zone`). */
export function sockaddr(host: string, port: number, l: Loaded): { family: number; addr: Uint8Array } {
  const zone = host.indexOf("%");
  const literal = zone < 0 ? host : host.slice(0, zone);
  const ip = parseIP(literal);
  if (ip === null) throw new TypeError(`${JSON.stringify(host)} is not an IP address`);
  if (ip.length === 4 && !literal.includes(":")) {
    const addr = new Uint8Array(16);
    const v = new DataView(addr.buffer);
    v.setUint16(0, AF_INET, true);
    v.setUint16(2, port);
    addr.set(ip, 4);
    return { family: AF_INET, addr };
  }
  const addr = new Uint8Array(SOCKADDR_IN6_SIZE);
  const v = new DataView(addr.buffer);
  v.setUint16(0, AF_INET6, true);
  v.setUint16(2, port);
  if (ip.length === 4) addr.set([0xff, 0xff, ...ip], 18); // ::ffff:a.b.c.d
  else addr.set(ip, 8);
  if (zone >= 0) {
    const name = new TextEncoder().encode(host.slice(zone + 1) + "\0");
    const index = /^\d+$/.test(host.slice(zone + 1))
      ? Number(host.slice(zone + 1))
      : l.libc.if_nametoindex(name);
    if (index === 0) throw new TypeError(`unknown interface in ${JSON.stringify(host)}`);
    v.setUint32(24, index, true);
  }
  return { family: AF_INET6, addr };
}

/**
 * The IP of a `sockaddr_in`/`sockaddr_in6` at `bytes[at]`: 4 bytes for IPv4
 * (v4-mapped IPv6 included), 16 for IPv6, null for another family. A copy in
 * {@link copyBytes} memory: per-request data.
 */
export function sockaddrIP(bytes: Uint8Array, view: DataView, at: number): Uint8Array | null {
  const family = view.getUint16(at, true);
  if (family === AF_INET6) {
    // ::ffff:a.b.c.d (an IPv4 client of a dual-stack socket) becomes 4 bytes.
    const mapped = view.getUint32(at + 8) === 0 && view.getUint32(at + 12) === 0 &&
      view.getUint32(at + 16) === 0xffff;
    return mapped ? copyBytes(bytes, at + 20, at + 24) : copyBytes(bytes, at + 8, at + 24);
  }
  if (family === AF_INET) return copyBytes(bytes, at + 4, at + 8);
  return null;
}

/** `setsockopt` of an int option; false when it failed (errno says why). */
export function setInt(l: Loaded, fd: number, level: number, name: number, value: number): boolean {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setInt32(0, value, true);
  return l.libc.setsockopt(fd, level, name, v, 4) === 0;
}

/** The address and port a socket is bound to (`getsockname`). */
export function boundAddress(l: Loaded, fd: number): { ip: Uint8Array; port: number } {
  const name = new Uint8Array(SOCKADDR_IN6_SIZE);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, name.length, true);
  if (l.libc.getsockname(fd, name, len) !== 0) throw errnoError(l, "getsockname");
  const nv = new DataView(name.buffer);
  const ip = nv.getUint16(0, true) === AF_INET6 ? name.slice(8, 24) : name.slice(4, 8);
  return { ip, port: nv.getUint16(2) };
}

/**
 * Opens a socket of `type` (SOCK_DGRAM or SOCK_STREAM, with any SOCK_* flags),
 * lets `configure` set its options, and binds it to `hostname:port`. "" is every
 * interface: dual-stack "::", or IPv4 alone where the host has no IPv6. Closes the
 * socket again on any failure; bind failures are Deno's error classes.
 */
export function bindSocket(
  l: Loaded,
  hostname: string,
  port: number,
  type: number,
  configure: (fd: number, family: number) => void,
): { fd: number; ip: Uint8Array; port: number } {
  const { libc } = l;
  const raw = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  const candidates = raw === "" ? ["::", "0.0.0.0"] : [raw];
  let lastError: Error | undefined;
  for (const host of candidates) {
    const { family, addr } = sockaddr(host, port, l);
    const fd = libc.socket(family, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      const errno = l.errno();
      lastError = errnoError(l, "socket", errno);
      if (errno === EAFNOSUPPORT && host !== candidates[candidates.length - 1]) continue;
      throw lastError;
    }
    try {
      if (family === AF_INET6 && host === "::" && !setInt(l, fd, IPPROTO_IPV6, IPV6_V6ONLY, 0)) {
        throw errnoError(l, "setsockopt(IPV6_V6ONLY)");
      }
      configure(fd, family);
      if (libc.bind(fd, addr, addr.length) !== 0) {
        const err = bindError(l, "bind");
        // A taken port is taken for IPv4 too; anything else may mean no IPv6 here.
        if (host === "::" && candidates.length > 1 && !(err instanceof Deno.errors.AddrInUse)) {
          lastError = err;
          libc.close(fd);
          continue;
        }
        throw err;
      }
      return { fd, ...boundAddress(l, fd) };
    } catch (err) {
      libc.close(fd);
      throw err;
    }
  }
  throw lastError ?? new Error("nothing to bind");
}

/**
 * The startup error for `key: ffi` (`udp.transport`, `http.transport`) where
 * {@link ffiUnavailable} gave `why`, saying what to do.
 */
export function ffiRequiredError(key: string, why: string): Error {
  return new Error(
    `${key} is ffi, but the FFI transport is unavailable: ${why}. ` +
      (why.startsWith("--allow-ffi")
        ? `Run with --allow-ffi (deno task start grants it), or set ${key}: deno`
        : `It needs Linux on x86_64 or aarch64; set ${key}: deno (or auto)`),
  );
}

/** A transport picked for a `transport` key: what serves, why, and its listen function. */
export interface TransportChoice<L> {
  transport: "ffi" | "deno";
  reason: string;
  listen: L;
}

/**
 * The transport for `key` (`udp.transport`, `http.transport`) set to `requested`:
 * `deno` always, `ffi` where {@link ffiUnavailable} allows it (else a startup error
 * saying what to do), `auto` the first of the two that can run.
 *
 * @example
 * ```ts
 * chooseTransport("udp.transport", "auto", { ffi: listenUDPFFI, deno: listenUDP }).transport; // "ffi"
 * ```
 */
export function chooseTransport<L>(
  key: string,
  requested: "auto" | "ffi" | "deno",
  listeners: { ffi: L; deno: L },
): TransportChoice<L> {
  if (requested === "deno") return { transport: "deno", reason: `${key} is deno`, listen: listeners.deno };
  const why = ffiUnavailable();
  if (why !== null) {
    if (requested === "ffi") throw ffiRequiredError(key, why);
    return { transport: "deno", reason: `auto: FFI unavailable (${why})`, listen: listeners.deno };
  }
  const platform = `${Deno.build.os} ${Deno.build.arch}`;
  const reason = requested === "ffi" ? `${key} is ffi (${platform})` : `auto: ${platform} with --allow-ffi`;
  return { transport: "ffi", reason, listen: listeners.ffi };
}
