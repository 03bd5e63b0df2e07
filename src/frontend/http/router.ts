/**
 * Route patterns as chihaya's httprouter takes them: literal segments, named
 * `:param` segments (one non-empty segment) and a final catch-all `*param` (the
 * rest of the path, with its leading slash).
 *
 * @module
 */

/** What a request path resolved to. */
export interface RouteMatch<T> {
  target: T;
  /** The route's named segments; shared and frozen for a route without any. */
  params: Record<string, string>;
  /** The path that matched (still percent-escaped). */
  path: string;
}

/** The params of a route without any: shared, so matching a literal route allocates nothing. */
const NO_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** A literal route, with its path's bytes for {@link Router.matchExact}. */
interface ExactRoute<T> {
  bytes: Uint8Array;
  match: RouteMatch<T>;
}

interface CompiledRoute<T> {
  segments: string[];
  target: T;
}

function decodeSegment(s: string): string {
  if (s.indexOf("%") < 0) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Matches request paths against a set of patterns; the first pattern registered
 * wins when two match.
 *
 * @example
 * ```ts
 * const r = new Router<string>();
 * r.add("/announce/:passkey", "announce");
 * r.match("/announce/abc"); // { target: "announce", params: { passkey: "abc" } }
 * ```
 */
export class Router<T> {
  private readonly routes: CompiledRoute<T>[] = [];
  private readonly exact = new Map<string, RouteMatch<T>>();
  private readonly exactBytes: ExactRoute<T>[] = [];

  /** Adds a pattern; throws when it is malformed. */
  add(pattern: string, target: T): void {
    if (!pattern.startsWith("/")) throw new Error(`route "${pattern}" must start with "/"`);
    const segments = pattern.split("/").slice(1);
    segments.forEach((s, i) => {
      if ((s.startsWith(":") || s.startsWith("*")) && s.length === 1) {
        throw new Error(`route "${pattern}" has a parameter without a name`);
      }
      if (s.startsWith("*") && i !== segments.length - 1) {
        throw new Error(`route "${pattern}": a catch-all *param must be the last segment`);
      }
    });
    if (segments.every((s) => !s.startsWith(":") && !s.startsWith("*"))) {
      if (this.exact.has(pattern)) return;
      const match = { target, params: NO_PARAMS, path: pattern };
      this.exact.set(pattern, match);
      // A path read from bytes has one character per byte: a pattern with others never matches one.
      if (Array.from(pattern).every((ch) => ch.charCodeAt(0) <= 0xff)) {
        this.exactBytes.push({ bytes: Uint8Array.from(pattern, (c) => c.charCodeAt(0)), match });
      }
      return;
    }
    this.routes.push({ segments, target });
  }

  /**
   * The literal route whose path is the bytes `buf[from, to)` (one character per
   * byte), or undefined; {@link match} resolves the rest. Builds no string: a
   * tracker's requests nearly all go to one or two literal routes.
   */
  matchExact(buf: Uint8Array, from: number, to: number): RouteMatch<T> | undefined {
    const routes = this.exactBytes;
    outer: for (let r = 0; r < routes.length; r++) {
      const { bytes } = routes[r];
      if (bytes.length !== to - from) continue;
      for (let i = 0; i < bytes.length; i++) if (buf[from + i] !== bytes[i]) continue outer;
      return routes[r].match;
    }
    return undefined;
  }

  /** Resolves a raw (percent-escaped) path. */
  match(path: string): RouteMatch<T> | undefined {
    const hit = this.exact.get(path);
    if (hit !== undefined) return hit;
    if (this.routes.length === 0) return undefined;
    const parts = path.split("/").slice(1);
    outer: for (const route of this.routes) {
      const params: Record<string, string> = {};
      for (let i = 0; i < route.segments.length; i++) {
        const seg = route.segments[i];
        if (seg.startsWith("*")) {
          if (i > parts.length) continue outer;
          params[seg.slice(1)] = decodeSegment("/" + parts.slice(i).join("/"));
          return { target: route.target, params, path };
        }
        if (i >= parts.length) continue outer;
        if (seg.startsWith(":")) {
          if (parts[i] === "") continue outer;
          params[seg.slice(1)] = decodeSegment(parts[i]);
        } else if (seg !== parts[i]) {
          continue outer;
        }
      }
      if (parts.length === route.segments.length) return { target: route.target, params, path };
    }
    return undefined;
  }
}
