/**
 * The `/stats` page: one self-contained HTML file (inline CSS and SVG, no script,
 * no external assets) rendered on the server, so the numbers are in the markup
 * and the page works offline. It reloads itself every 10 seconds.
 *
 * @module
 */
import type { StatsSnapshot } from "./server.ts";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const fmt = (n: number) => n.toLocaleString("en-US");

/** `3d 4h 5m 6s`. */
export function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [d ? `${d}d` : "", d || h ? `${h}h` : "", d || h || m ? `${m}m` : "", `${s}s`].filter(Boolean).join(
    " ",
  );
}

const W = 640, H = 180, PAD = 32;

function chart(rate: StatsSnapshot["rate"]): string {
  const n = rate.http.length;
  const max = Math.max(1, ...rate.http, ...rate.udp);
  const x = (i: number) => PAD + (n <= 1 ? 0 : (i * (W - 2 * PAD)) / (n - 1));
  const y = (v: number) => H - PAD + 8 - (v / max) * (H - 2 * PAD);
  const line = (vs: number[], color: string, name: string) =>
    vs.length === 0
      ? ""
      : `<polyline data-series="${name}" fill="none" stroke="${color}" stroke-width="2" points="${
        vs.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ")
      }"/>`;
  const minutes = Math.round((n * rate.intervalSeconds) / 60);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="requests per second">
<rect x="0" y="0" width="${W}" height="${H}" fill="#fafafa" stroke="#ddd"/>
<line x1="${PAD}" y1="${H - PAD + 8}" x2="${W - PAD}" y2="${H - PAD + 8}" stroke="#999"/>
<line x1="${PAD}" y1="${PAD - 8}" x2="${PAD}" y2="${H - PAD + 8}" stroke="#999"/>
<text x="${PAD + 4}" y="${PAD}" font-size="11" fill="#555">${fmt(max)}/s</text>
<text x="${PAD + 4}" y="${H - 6}" font-size="11" fill="#555">${
    n === 0 ? "collecting samples…" : `last ${minutes || "<1"} min, one point per ${rate.intervalSeconds}s`
  }</text>
${line(rate.http, "#1f77b4", "http")}
${line(rate.udp, "#d62728", "udp")}
<text x="${W - PAD - 90}" y="${PAD}" font-size="12" fill="#1f77b4">■ HTTP</text>
<text x="${W - PAD - 40}" y="${PAD}" font-size="12" fill="#d62728">■ UDP</text>
</svg>`;
}

/**
 * Renders the page.
 *
 * @example
 * ```ts
 * const html = renderStats(snapshot);
 * ```
 */
export function renderStats(s: StatsSnapshot): string {
  const last = (vs: number[]) => (vs.length === 0 ? 0 : vs[vs.length - 1]);
  const card = (id: string, label: string, value: string) =>
    `<div class="card"><div class="label">${label}</div><div class="value" id="${id}">${
      esc(value)
    }</div></div>`;
  const rows = s.topSwarms.map((t) =>
    `<tr><td><code>${t.infoHash}</code></td><td>${t.family}</td><td>${fmt(t.seeders)}</td><td>${
      fmt(t.leechers)
    }</td><td>${fmt(t.downloaded)}</td></tr>`
  ).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="10">
<title>hayate tracker stats</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; }
.sub { color: #666; margin-bottom: 16px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin-bottom: 16px; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 10px 16px; min-width: 120px; }
.label { color: #666; font-size: 12px; text-transform: uppercase; }
.value { font-size: 26px; font-weight: 600; }
table { border-collapse: collapse; margin-top: 8px; }
td, th { border-bottom: 1px solid #eee; padding: 4px 10px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
code { font-size: 12px; }
</style>
</head>
<body>
<h1>hayate tracker</h1>
<div class="sub">version <span id="version">${esc(s.version)}</span> · up <span id="uptime">${
    formatUptime(s.uptimeSeconds)
  }</span> · started ${new Date(s.startedAt).toISOString()}</div>
<div class="cards">
${card("torrents", "torrents", fmt(s.torrents))}
${card("seeders", "seeders", fmt(s.seeders))}
${card("leechers", "leechers", fmt(s.leechers))}
${card("http-rate", "HTTP req/s", fmt(last(s.rate.http)))}
${card("udp-rate", "UDP req/s", fmt(last(s.rate.udp)))}
${card("requests", "requests served", fmt(s.requests.http + s.requests.udp))}
</div>
<h2>Requests per second</h2>
${chart(s.rate)}
<h2>Top swarms</h2>
<table id="top-swarms">
<thead><tr><th>infohash</th><th>family</th><th>seeders</th><th>leechers</th><th>downloaded</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="5">no swarms</td></tr>'}
</tbody>
</table>
<p class="sub">UDP connection-ID rejects: ${fmt(s.udpRejects.connectionID)} · dropped packets: ${
    fmt(s.udpRejects.dropped)
  } · <a href="/stats.json">stats.json</a> · <a href="/metrics">metrics</a></p>
</body>
</html>
`;
}
