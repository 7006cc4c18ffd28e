// `/auth` on local workerd, three Workers under the same `wrangler dev --local`, load from wrk:
//   bare   bench/bare-worker.mjs, answers 200 to anything;
//   oauth  bench/oauth-worker/worker.mjs, `@cloudflare/workers-oauth-provider` validating an
//          access token it issued (its OAUTH_KV on local KV);
//   ours   the test build of the Worker (tests/worker/harness.mjs: local KV and D1), a user token.
// All three run at once; for each connection count they are measured back to back, so a busy
// machine weighs on the three alike. Bounded: wrk -d SECONDS per run, every wait has a timeout;
// every Worker is stopped at the end.
// Usage: node bench/worker.mjs [seconds]   (prints JSON lines: http-worker, http-worker-oauth)
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startWorker } from '../tests/worker/harness.mjs';
import { wrk } from './wrk.mjs';

const root = resolve(import.meta.dirname, '..');
const SECONDS = Number(process.argv[2] ?? process.env.PORTCULLIS_BENCH_HTTP_SECONDS ?? 10);
const CONNECTIONS = (process.env.PORTCULLIS_BENCH_CONNECTIONS ?? '1,16,64').split(',').map(Number);
const AUTH = '/auth?scope=read:all';

async function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => ok(port)); });
  });
}

/** `wrangler dev --local` of one module with the given extra wrangler.toml lines (`origin` is substituted). */
async function startPlain(name, main, extra = () => '') {
  const dir = mkdtempSync(join(tmpdir(), `portcullis-${name}-worker-`));
  const [port, inspector] = [await freePort(), await freePort()];
  const baseUrl = `http://127.0.0.1:${port}`;
  writeFileSync(join(dir, 'wrangler.toml'), `name = "${name}"\nmain = "${main}"\ncompatibility_date = "2026-04-20"\nsend_metrics = false\n${extra(baseUrl)}`);
  const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' };
  const child = spawn(join(root, 'node_modules/.bin/wrangler'), ['dev', '--config', join(dir, 'wrangler.toml'), '--local', '--ip', '127.0.0.1',
    '--port', String(port), '--inspector-port', String(inspector), '--persist-to', join(dir, 'state'), '--show-interactive-dev-session=false'],
  { cwd: dir, env, detached: true, stdio: ['ignore', 'ignore', 'ignore'] });
  const exited = new Promise((ok) => child.once('exit', ok));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try { process.kill(-child.pid, 'SIGTERM'); } catch {}
      const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch {} }, 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (const deadline = Date.now() + 60_000; ;) {
    try { const r = await fetch(baseUrl, { signal: AbortSignal.timeout(5_000) }); await r.arrayBuffer(); break; } catch {}
    if (Date.now() > deadline || child.exitCode !== null) { await stop(); throw new Error(`the ${name} Worker did not start in 60 s`); }
    await new Promise((ok) => setTimeout(ok, 200));
  }
  return { baseUrl, stop };
}

async function checked(response, status, what) {
  if (response.status !== status) throw new Error(`${what}: ${response.status} ${await response.text()}`);
  return response;
}

/** An access token issued by the provider: a public client, then the authorization-code flow with PKCE. */
async function oauthToken(baseUrl) {
  const signal = () => AbortSignal.timeout(10_000);
  const redirectUri = 'http://127.0.0.1/callback';
  const { clientId } = await (await checked(await fetch(`${baseUrl}/bench/client`, {
    method: 'POST', body: JSON.stringify({ redirectUri }), signal: signal(),
  }), 200, 'registering the client')).json();
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL(`${baseUrl}/authorize`);
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: 'read:all', state: 'bench',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' })) authorize.searchParams.set(k, v);
  const redirect = await checked(await fetch(authorize, { redirect: 'manual', signal: signal() }), 302, 'authorizing');
  const code = new URL(redirect.headers.get('location')).searchParams.get('code');
  const tokens = await checked(await fetch(`${baseUrl}/oauth/token`, {
    method: 'POST', signal: signal(),
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: clientId, code_verifier: verifier }),
  }), 200, 'exchanging the code');
  return (await tokens.json()).access_token;
}

/** The token is accepted, a changed one refused: the validation path is live. */
async function probe(baseUrl, token) {
  const get = (t) => fetch(`${baseUrl}${AUTH}`, { headers: { authorization: `Bearer ${t}` }, signal: AbortSignal.timeout(10_000) });
  await checked(await get(token), 200, `${baseUrl}${AUTH} with the token`);
  await checked(await get(`${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`), 401, `${baseUrl}${AUTH} with a changed token`);
}

if (!existsSync(join(root, 'bench/oauth-worker/node_modules/@cloudflare/workers-oauth-provider'))) {
  throw new Error('bench/oauth-worker has no node_modules: npm ci --prefix bench/oauth-worker');
}
const running = [];
try {
  const bare = await startPlain('bare', join(root, 'bench/bare-worker.mjs'));
  running.push(bare);
  const oauth = await startPlain('oauth', join(root, 'bench/oauth-worker/worker.mjs'),
    (origin) => `[[kv_namespaces]]\nbinding = "OAUTH_KV"\nid = "oauth-local"\n[vars]\nBENCH_ORIGIN = "${origin}"\n`);
  running.push(oauth);
  const worker = await startWorker();
  running.push(worker);

  const oauthAccess = await oauthToken(oauth.baseUrl);
  await probe(oauth.baseUrl, oauthAccess);
  const made = await checked(await fetch(`${worker.baseUrl}/auth/api/v1/tokens`, {
    method: 'POST', signal: AbortSignal.timeout(10_000),
    headers: { authorization: `Bearer ${worker.bootstrapToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'benchuser', token_type: 'user', token_name: 'bench', scopes: ['read:all'] }),
  }), 201, 'creating the user token');
  const { token } = await made.json();
  await probe(worker.baseUrl, token);

  for (const c of CONNECTIONS) {
    const base = await wrk(`${bare.baseUrl}${AUTH}`, c, SECONDS);
    const prov = await wrk(`${oauth.baseUrl}${AUTH}`, c, SECONDS, [`Authorization: Bearer ${oauthAccess}`]);
    const ours = await wrk(`${worker.baseUrl}${AUTH}`, c, SECONDS, [`Authorization: Bearer ${token}`]);
    const mine = { ours_rps: ours.rps, ours_p50_ms: ours.p50_ms, ours_p99_ms: ours.p99_ms, ours_non2xx: ours.errors };
    console.log(JSON.stringify({
      bench: 'http-worker', connections: c, seconds: SECONDS, ...mine,
      bare_rps: base.rps, bare_p50_ms: base.p50_ms, bare_p99_ms: base.p99_ms,
      ratio: +(ours.rps / base.rps).toFixed(3),
    }));
    console.log(JSON.stringify({
      bench: 'http-worker-oauth', connections: c, seconds: SECONDS, ...mine,
      oauth_rps: prov.rps, oauth_p50_ms: prov.p50_ms, oauth_p99_ms: prov.p99_ms, oauth_non2xx: prov.errors,
      ratio: +(ours.rps / prov.rps).toFixed(3),
    }));
  }
} finally {
  for (const w of running.reverse()) await w.stop();
}
