// `/auth` of the Worker on local workerd (wrangler dev --local, the test harness's setup: local
// KV and D1) vs a bare Worker answering 200 under the same wrangler dev, load from wrk.
// Bounded: wrk -d SECONDS per run; both Workers stopped at the end.
// Usage: node bench/worker.mjs [seconds]   (prints one JSON line per case)
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startWorker } from '../tests/worker/harness.mjs';

const root = resolve(import.meta.dirname, '..');
const SECONDS = Number(process.argv[2] ?? process.env.PORTCULLIS_BENCH_HTTP_SECONDS ?? 10);
const CONNECTIONS = (process.env.PORTCULLIS_BENCH_CONNECTIONS ?? '1,16,64').split(',').map(Number);

async function wrk(url, connections, headers = []) {
  const args = ['-t1', `-c${connections}`, `-d${SECONDS}s`, '--latency', '--timeout', '5s'];
  for (const h of headers) args.push('-H', h);
  const { stdout: out } = await promisify(execFile)('wrk', [...args, url], { encoding: 'utf8', timeout: (SECONDS + 30) * 1000 });
  const ms = (label) => {
    const m = new RegExp(`^\\s*${label}%\\s+([0-9.]+)(us|ms|s)`, 'm').exec(out);
    return m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : null;
  };
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return { rps: Number(/Requests\/sec:\s+([0-9.]+)/.exec(out)[1]), p50_ms: ms('50'), p99_ms: ms('99'), errors: non2xx ? Number(non2xx[1]) : 0 };
}

async function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => ok(port)); });
  });
}

async function startBare() {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bare-worker-'));
  writeFileSync(join(dir, 'wrangler.toml'), `name = "bare"\nmain = "${join(root, 'bench/bare-worker.mjs')}"\ncompatibility_date = "2026-04-20"\nsend_metrics = false\n`);
  const [port, inspector] = [await freePort(), await freePort()];
  const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' };
  const child = spawn(join(root, 'node_modules/.bin/wrangler'), ['dev', '--config', join(dir, 'wrangler.toml'), '--local', '--ip', '127.0.0.1',
    '--port', String(port), '--inspector-port', String(inspector), '--persist-to', join(dir, 'state'), '--show-interactive-dev-session=false'],
  { cwd: dir, env, detached: true, stdio: ['ignore', 'ignore', 'ignore'] });
  const exited = new Promise((ok) => child.once('exit', ok));
  const stop = async () => {
    try { process.kill(-child.pid, 'SIGTERM'); } catch {}
    const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch {} }, 5_000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  const baseUrl = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 60_000; ;) {
    try { const r = await fetch(baseUrl, { signal: AbortSignal.timeout(5_000) }); await r.arrayBuffer(); break; } catch {}
    if (Date.now() > deadline) { await stop(); throw new Error('the bare Worker did not start in 60 s'); }
    await new Promise((ok) => setTimeout(ok, 200));
  }
  return { baseUrl, stop };
}

const bare = await startBare();
const baseline = {};
try {
  for (const c of CONNECTIONS) baseline[c] = await wrk(`${bare.baseUrl}/auth?scope=read:all`, c);
} finally {
  await bare.stop();
}

const worker = await startWorker();
try {
  const made = await fetch(`${worker.baseUrl}/auth/api/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${worker.bootstrapToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'benchuser', token_type: 'user', token_name: 'bench', scopes: ['read:all'] }),
  });
  if (made.status !== 201) throw new Error(`creating the user token: ${made.status} ${await made.text()}`);
  const { token } = await made.json();
  const check = await fetch(`${worker.baseUrl}/auth?scope=read:all`, { headers: { authorization: `Bearer ${token}` } });
  if (check.status !== 200) throw new Error(`/auth answered ${check.status}`);
  for (const c of CONNECTIONS) {
    const ours = await wrk(`${worker.baseUrl}/auth?scope=read:all`, c, [`Authorization: Bearer ${token}`]);
    const base = baseline[c];
    console.log(JSON.stringify({
      bench: 'http-worker', connections: c, seconds: SECONDS,
      ours_rps: ours.rps, ours_p50_ms: ours.p50_ms, ours_p99_ms: ours.p99_ms, ours_non2xx: ours.errors,
      bare_rps: base.rps, bare_p50_ms: base.p50_ms, bare_p99_ms: base.p99_ms,
      ratio: +(ours.rps / base.rps).toFixed(3),
    }));
  }
} finally {
  await worker.stop();
}
