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
  params: Record<string, string>;
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
  private readonly exact = new Map<string, T>();

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
      if (!this.exact.has(pattern)) this.exact.set(pattern, target);
      return;
    }
    this.routes.push({ segments, target });
  }

  /** Resolves a raw (percent-escaped) path. */
  match(path: string): RouteMatch<T> | undefined {
    const hit = this.exact.get(path);
    if (hit !== undefined) return { target: hit, params: {} };
    if (this.routes.length === 0) return undefined;
    const parts = path.split("/").slice(1);
    outer: for (const route of this.routes) {
      const params: Record<string, string> = {};
      for (let i = 0; i < route.segments.length; i++) {
        const seg = route.segments[i];
        if (seg.startsWith("*")) {
          if (i > parts.length) continue outer;
          params[seg.slice(1)] = decodeSegment("/" + parts.slice(i).join("/"));
          return { target: route.target, params };
        }
        if (i >= parts.length) continue outer;
        if (seg.startsWith(":")) {
          if (parts[i] === "") continue outer;
          params[seg.slice(1)] = decodeSegment(parts[i]);
        } else if (seg !== parts[i]) {
          continue outer;
        }
      }
      if (parts.length === route.segments.length) return { target: route.target, params };
    }
    return undefined;
  }
}
