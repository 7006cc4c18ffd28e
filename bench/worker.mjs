// `/auth` on local workerd, three Workers (five on workerd directly), load from wrk:
//   bare   bench/bare-worker.mjs, answers 200 to anything;
//   oauth  bench/oauth-worker/worker.mjs, `@cloudflare/workers-oauth-provider` validating an
//          access token it issued (its OAUTH_KV on local KV);
//   ours   our Worker (local KV and D1, the vars of wrangler.toml), a user token.
// Two setups, one after the other: "wrangler" runs the three under `wrangler dev --local` (ours is
// the test build, as tests/worker/harness.mjs starts it), "workerd" on Miniflare's workerd
// directly, without wrangler's proxy in front (ours is the bundle in BUNDLE_DIR, as
// scripts/worker-build.sh builds it; bench/workerd-direct.mjs). The workerd setup adds two more:
//   kv       bench/kv-worker.mjs, one KV read per request and a 200 (the ceiling of any Worker
//            that reads KV on every request);
//   nocache  ours with PORTCULLIS_VALIDATION_CACHE_SECONDS=0 (every check reads KV).
// In each setup the Workers run at once and, for each connection count, are measured back to
// back in ROUNDS interleaved rounds (SECONDS split over them; medians), so a busy machine weighs on
// them alike. Bounded: wrk -d per run, every wait has a timeout; every Worker is stopped at the end.
// Usage: node bench/worker.mjs [BUNDLE_DIR]   (default target/worker-bundle/release; seconds per
// run: PORTCULLIS_BENCH_HTTP_SECONDS, default 10, split over PORTCULLIS_BENCH_WORKER_ROUNDS, default 5
// (workerd's latency tail swings from run to run); PORTCULLIS_BENCH_WORKER_SETUPS=wrangler,workerd)
// Prints JSON lines: http-worker, http-worker-oauth, each with its `setup`.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, startWorker } from '../tests/worker/harness.mjs';
import { bundle, startDirect, startOurs } from './workerd-direct.mjs';
import { median, wrk } from './wrk.mjs';

const root = resolve(import.meta.dirname, '..');
const BUNDLE_DIR = resolve(process.argv[2] ?? join(root, 'target/worker-bundle/release'));
const SECONDS = Number(process.env.PORTCULLIS_BENCH_HTTP_SECONDS ?? 10);
const ROUNDS = Number(process.env.PORTCULLIS_BENCH_WORKER_ROUNDS ?? 5);
const SETUPS = (process.env.PORTCULLIS_BENCH_WORKER_SETUPS ?? 'wrangler,workerd').split(',');
const CONNECTIONS = (process.env.PORTCULLIS_BENCH_CONNECTIONS ?? '1,16,64').split(',').map(Number);
const AUTH = '/auth?scope=read:all';

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

/** A user token of our Worker, made with its bootstrap token. */
async function userToken(worker) {
  const made = await checked(await fetch(`${worker.baseUrl}/auth/api/v1/tokens`, {
    method: 'POST', signal: AbortSignal.timeout(10_000),
    headers: { authorization: `Bearer ${worker.bootstrapToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'benchuser', token_type: 'user', token_name: 'bench', scopes: ['read:all'] }),
  }), 201, 'creating the user token');
  return (await made.json()).token;
}

/** The token is accepted, a changed one refused: the validation path is live. */
async function probe(baseUrl, token) {
  const get = (t) => fetch(`${baseUrl}${AUTH}`, { headers: { authorization: `Bearer ${t}` }, signal: AbortSignal.timeout(10_000) });
  await checked(await get(token), 200, `${baseUrl}${AUTH} with the token`);
  await checked(await get(`${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`), 401, `${baseUrl}${AUTH} with a changed token`);
}

/** The three Workers of a setup, started; the caller stops them (`running`). */
const SETUP_START = {
  async wrangler(running) {
    const bare = await startPlain('bare', join(root, 'bench/bare-worker.mjs'));
    running.push(bare);
    const oauth = await startPlain('oauth', join(root, 'bench/oauth-worker/worker.mjs'),
      (origin) => `[[kv_namespaces]]\nbinding = "OAUTH_KV"\nid = "oauth-local"\n[vars]\nBENCH_ORIGIN = "${origin}"\n`);
    running.push(oauth);
    const ours = await startWorker();
    running.push(ours);
    return { bare, oauth, ours, extra: {} };
  },
  async workerd(running) {
    const bareScript = readFileSync(join(root, 'bench/bare-worker.mjs'), 'utf8');
    const bare = await startDirect('bare', () => ({ modules: [{ type: 'ESModule', path: 'worker.mjs', contents: bareScript }] }));
    running.push(bare);
    const oauthScript = await bundle(`export { default } from './worker.mjs';`, join(root, 'bench/oauth-worker'));
    const oauth = await startDirect('oauth', (origin) => ({
      modules: [{ type: 'ESModule', path: 'worker.mjs', contents: oauthScript }],
      kvNamespaces: ['OAUTH_KV'], bindings: { BENCH_ORIGIN: origin },
    }));
    running.push(oauth);
    const ours = await startOurs(BUNDLE_DIR);
    running.push(ours);
    const kvScript = readFileSync(join(root, 'bench/kv-worker.mjs'), 'utf8');
    const kv = await startDirect('kv', () => ({ modules: [{ type: 'ESModule', path: 'worker.mjs', contents: kvScript }], kvNamespaces: ['KV'] }));
    running.push(kv);
    await (await kv.mf.getKVNamespace('KV')).put('token:bench', new Uint8Array(300));
    const nocache = await startOurs(BUNDLE_DIR, { PORTCULLIS_VALIDATION_CACHE_SECONDS: '0' }, 'nocache');
    running.push(nocache);
    return { bare, oauth, ours, extra: { kv: { worker: kv, token: null }, nocache: { worker: nocache } } };
  },
};

if (!existsSync(join(root, 'bench/oauth-worker/node_modules/@cloudflare/workers-oauth-provider'))) {
  throw new Error('bench/oauth-worker has no node_modules: npm ci --prefix bench/oauth-worker');
}
for (const setup of SETUPS) {
  if (!SETUP_START[setup]) throw new Error(`unknown setup ${setup} (wrangler, workerd)`);
  const running = [];
  try {
    const { bare, oauth, ours: worker, extra } = await SETUP_START[setup](running);
    const oauthAccess = await oauthToken(oauth.baseUrl);
    await probe(oauth.baseUrl, oauthAccess);
    const token = await userToken(worker);
    await probe(worker.baseUrl, token);
    if (extra.nocache) {
      extra.nocache.token = await userToken(extra.nocache.worker);
      await probe(extra.nocache.worker.baseUrl, extra.nocache.token);
    }

    // Interleaved rounds, each figure the median of the rounds (as bench/http.mjs): workerd's
    // latency tail swings from run to run, and a change in the machine's load falls on all alike.
    const targets = {
      bare: [bare.baseUrl, []],
      oauth: [oauth.baseUrl, [`Authorization: Bearer ${oauthAccess}`]],
      ours: [worker.baseUrl, [`Authorization: Bearer ${token}`]],
      ...Object.fromEntries(Object.entries(extra).map(([name, { worker: w, token: t }]) => [name, [w.baseUrl, t ? [`Authorization: Bearer ${t}`] : []]])),
    };
    const seconds = Math.max(2, Math.round(SECONDS / ROUNDS));
    for (const c of CONNECTIONS) {
      const runs = Object.fromEntries(Object.keys(targets).map((name) => [name, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, [url, headers]] of Object.entries(targets)) runs[name].push(await wrk(`${url}${AUTH}`, c, seconds, headers));
      }
      const fig = {};
      for (const [name, list] of Object.entries(runs)) {
        Object.assign(fig, { [`${name}_rps`]: median(list, 'rps'), [`${name}_p50_ms`]: median(list, 'p50_ms'), [`${name}_p99_ms`]: median(list, 'p99_ms') });
        if (name !== 'bare') fig[`${name}_non2xx`] = list.reduce((sum, r) => sum + r.errors, 0);
      }
      const { bare_rps, bare_p50_ms, bare_p99_ms, oauth_rps, oauth_p50_ms, oauth_p99_ms, oauth_non2xx, ...mine } = fig;
      const head = { connections: c, seconds: seconds * ROUNDS, rounds: ROUNDS, setup };
      console.log(JSON.stringify({ bench: 'http-worker', ...head, ...mine, bare_rps, bare_p50_ms, bare_p99_ms, ratio: +(fig.ours_rps / bare_rps).toFixed(3) }));
      console.log(JSON.stringify({
        bench: 'http-worker-oauth', ...head, ...mine, oauth_rps, oauth_p50_ms, oauth_p99_ms, oauth_non2xx, ratio: +(fig.ours_rps / oauth_rps).toFixed(3),
      }));
    }
  } finally {
    for (const w of running.reverse()) await w.stop();
  }
}
