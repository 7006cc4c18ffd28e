// Draws requests/s and p99 latency against connections for every HTTP server of a bench run, as
// SVG written by hand (no dependency): two panels, log-scale axes (the servers span two orders of
// magnitude), one line per server.
// Usage: node bench/plot.mjs <results.jsonl> [out.svg]   (default bench/throughput.svg)
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output = new URL('./throughput.svg', import.meta.url).pathname] = process.argv.slice(2);
const all = readFileSync(input, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
// The Workers are drawn in one setup: on workerd directly where it was measured (the closer one
// to a deployed Worker), else under wrangler dev (rows without a `setup`).
const workerSetup = all.some((r) => r.setup === 'workerd') ? 'workerd' : 'wrangler';
const rows = all.filter((r) => !r.bench?.startsWith('http-worker') || (r.setup ?? 'wrangler') === workerSetup);

// Okabe-Ito colours; baselines dashed, ours solid.
const SERIES = [
  { name: 'bare hyper', bench: 'http-serve', key: 'hyper', color: '#0072B2', dash: '6 4', mark: 'square' },
  { name: 'portcullis serve', bench: 'http-serve', key: 'ours', color: '#D55E00', dash: '', mark: 'circle' },
  { name: 'portcullis serve --no-reuse', bench: 'http-serve', key: 'called', color: '#D55E00', dash: '2 3', mark: 'circle' },
  { name: 'portcullis serve, 1,000 users while tokens are created', bench: 'http-serve', key: 'ours_writes', color: '#D55E00', dash: '8 3', mark: 'diamond' },
  { name: 'portcullis serve, PostgreSQL + Redis', bench: 'http-serve', key: 'pg', color: '#56B4E9', dash: '', mark: 'diamond' },
  { name: 'bare Worker', bench: 'http-worker', key: 'bare', color: '#009E73', dash: '6 4', mark: 'square' },
  { name: 'our Worker', bench: 'http-worker', key: 'ours', color: '#CC79A7', dash: '', mark: 'circle' },
  { name: 'workers-oauth-provider Worker', bench: 'http-worker-oauth', key: 'oauth', color: '#E69F00', dash: '2 3', mark: 'diamond' },
];
const lines = SERIES.map((s) => ({
  ...s,
  points: rows.filter((r) => r.bench === s.bench && r[`${s.key}_rps`] != null)
    .map((r) => ({ c: r.connections, rps: r[`${s.key}_rps`], p99: r[`${s.key}_p99_ms`] }))
    .sort((a, b) => a.c - b.c),
})).filter((s) => s.points.length);
if (!lines.length) {
  console.error(`plot: no HTTP rows in ${input}`);
  process.exit(1);
}

const esc = (t) => String(t).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const W = 1040, PANEL_W = 420, PANEL_H = 300, TOP = 70, LEFT = [80, 600];
const log = Math.log10;

/** 1, 2, 5 x 10^k between lo and hi (inclusive bounds widened to whole decades). */
function ticks(lo, hi) {
  const out = [];
  for (let k = Math.floor(log(lo)); k <= Math.ceil(log(hi)); k++) for (const m of [1, 2, 5]) out.push(m * 10 ** k);
  const first = out.findLastIndex((t) => t <= lo), last = out.findIndex((t) => t >= hi);
  return out.slice(Math.max(first, 0), last < 0 ? out.length : last + 1);
}
const fmt = (v) => (v >= 1000 ? `${v / 1000}k` : `${+v.toPrecision(3)}`);

function panel(x0, title, yLabel, field) {
  const cs = [...new Set(lines.flatMap((s) => s.points.map((p) => p.c)))].sort((a, b) => a - b);
  const vals = lines.flatMap((s) => s.points.map((p) => p[field])).filter((v) => v > 0);
  const ys = ticks(Math.min(...vals), Math.max(...vals));
  const [ylo, yhi] = [log(ys[0]), log(ys.at(-1))];
  const [xlo, xhi] = [log(cs[0]), log(cs.at(-1))];
  const px = (c) => x0 + (xhi === xlo ? PANEL_W / 2 : ((log(c) - xlo) / (xhi - xlo)) * (PANEL_W - 40) + 20);
  const py = (v) => TOP + PANEL_H - ((log(v) - ylo) / (yhi - ylo)) * PANEL_H;
  const out = [`<text x="${x0 + PANEL_W / 2}" y="${TOP - 14}" class="title">${esc(title)}</text>`,
    `<rect x="${x0}" y="${TOP}" width="${PANEL_W}" height="${PANEL_H}" class="frame"/>`];
  const decadesOnly = yhi - ylo > 2.5;
  for (const t of ys) {
    const major = Number.isInteger(log(t));
    out.push(`<line x1="${x0}" x2="${x0 + PANEL_W}" y1="${py(t)}" y2="${py(t)}" class="${major ? 'grid major' : 'grid'}"/>`);
    if (major || !decadesOnly) out.push(`<text x="${x0 - 6}" y="${py(t) + 4}" class="ytick">${fmt(t)}</text>`);
  }
  for (const c of cs) {
    out.push(`<line x1="${px(c)}" x2="${px(c)}" y1="${TOP}" y2="${TOP + PANEL_H}" class="grid"/>`,
      `<text x="${px(c)}" y="${TOP + PANEL_H + 18}" class="xtick">${c}</text>`);
  }
  out.push(`<text x="${x0 + PANEL_W / 2}" y="${TOP + PANEL_H + 40}" class="label">connections (wrk, log scale)</text>`,
    `<text transform="translate(${x0 - 52} ${TOP + PANEL_H / 2}) rotate(-90)" class="label">${esc(yLabel)}</text>`);
  for (const s of lines) {
    const pts = s.points.filter((p) => p[field] > 0).map((p) => [px(p.c), py(p[field])]);
    out.push(`<polyline points="${pts.map((p) => p.map((v) => v.toFixed(1)).join(',')).join(' ')}" fill="none" stroke="${s.color}" stroke-width="2.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    for (const [x, y] of pts) out.push(marker(s, x, y));
  }
  return out.join('\n');
}

function marker(s, x, y) {
  const f = `fill="${s.color}"`;
  if (s.mark === 'square') return `<rect x="${(x - 4).toFixed(1)}" y="${(y - 4).toFixed(1)}" width="8" height="8" ${f}/>`;
  if (s.mark === 'diamond') return `<polygon points="${x.toFixed(1)},${(y - 6).toFixed(1)} ${(x + 6).toFixed(1)},${y.toFixed(1)} ${x.toFixed(1)},${(y + 6).toFixed(1)} ${(x - 6).toFixed(1)},${y.toFixed(1)}" ${f}/>`;
  return `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="4.5" ${f}/>`;
}

/** The legend from `y` down, in as many rows as the width needs; returns [svg, rows]. */
function legend(y) {
  const out = [];
  let x = LEFT[0], rows = 1;
  for (const s of lines) {
    const width = 46 + s.name.length * 7.2;
    if (x + width > W - 10 && x > LEFT[0]) [x, y, rows] = [LEFT[0], y + 22, rows + 1];
    out.push(`<line x1="${x}" x2="${x + 30}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="2.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
      marker(s, x + 15, y), `<text x="${x + 38}" y="${y + 4}" class="legend">${esc(s.name)}</text>`);
    x += width;
  }
  return [out.join('\n'), rows];
}

const seconds = rows.find((r) => r.bench?.startsWith('http-'))?.seconds;
const [legendSvg, legendRows] = legend(TOP + PANEL_H + 68);
const H = TOP + PANEL_H + 100 + 22 * (legendRows - 1);
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<style>
.frame{fill:none;stroke:#444}.grid{stroke:#e4e4e4}.grid.major{stroke:#c8c8c8}
.title{font-size:15px;font-weight:bold;text-anchor:middle}.label{font-size:12px;text-anchor:middle;fill:#333}
.ytick{font-size:11px;text-anchor:end;fill:#333}.xtick{font-size:11px;text-anchor:middle;fill:#333}.legend{font-size:12px;fill:#222}
.caption{font-size:11px;fill:#555}
</style>
<rect width="100%" height="100%" fill="#fff"/>
${panel(LEFT[0], 'Throughput', 'requests/s (log scale)', 'rps')}
${panel(LEFT[1], 'p99 latency', 'p99 ms (log scale)', 'p99')}
${legendSvg}
<text x="${LEFT[0]}" y="${H - 8}" class="caption">${esc(`/auth, wrk -t1 -cN${seconds ? ` -d${seconds}s` : ''} --latency on loopback; 2 cores shared by load generator and servers; Workers ${workerSetup === 'workerd' ? 'on workerd directly' : 'under wrangler dev'} (bench/RESULTS.md)`)}</text>
</svg>
`;
writeFileSync(output, svg);
console.error(`plot: wrote ${output} (${lines.map((s) => s.name).join(', ')})`);
