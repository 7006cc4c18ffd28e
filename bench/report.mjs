// Turns the JSON lines of a bench run into bench/RESULTS.md (stdout).
// Usage: node bench/report.mjs <results.jsonl>
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

const rows = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
const of = (bench) => rows.filter((r) => r.bench === bench);
const sh = (cmd) => { try { return execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return 'unknown'; } };
const n = (x) => (x == null ? '—' : Math.round(Number(x)).toLocaleString('en-US'));
const x = (r) => (r == null ? '—' : `${r.toFixed(2)}x`);
const ms = (v) => (v == null ? '—' : `${v.toFixed(2)} ms`);
const perRequest = (v) => (v == null ? '—' : `${v.toFixed(1)} µs`);
const verdict = (ok) => (ok ? '**met**' : '**missed**');
const out = [];
const p = (...lines) => out.push(...lines);

// The run's own line (scripts/bench.sh): the tree measured and when, not the report's.
const run = of('run')[0];
const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
const jose = JSON.parse(readFileSync('node_modules/jose/package.json', 'utf8')).version;
p('# Benchmark results', '',
  'Every figure is a ratio against a baseline measured in the same run on the same machine.', '',
  `- Command: \`npm run bench\` (= \`bash scripts/bench.sh\`), commit \`${run?.commit ?? sh('git rev-parse --short HEAD')}\`, ${run ? `started ${run.started}` : new Date().toISOString()}`,
  `- Machine: ${sh('nproc')} cores (\`nproc\`), ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`,
  `- Versions: Node ${process.version}, ${sh('rustc --version')}, jose ${jose}, ${sh("wrk -v 2>&1 | head -1 | cut -d' ' -f1,2")}, wasmtime 48 (crates/host), jwt-compact 0.8.0`,
  '- Load generator and servers share the 2 cores (loopback); wrk runs one thread.', '');

const node = of('jwt-node');
if (node.length) {
  p('## JWT validation in Node/V8: ours (wasm) vs jose `jwtVerify`', '',
    'Same token, same process; each figure is the median of 3 interleaved rounds. "ours" is the core\'s',
    '`Validator` compiled to wasm (bench binding `crates/bench`, built at opt-level 3 with wasm SIMD, where the Worker and the',
    'browser package are built for size, the package without SIMD; options fixed at construction, claims returned as a JS object). "browser package" is `crates/web`\'s `Verifier.verify(token, options)`, built as scripts/web-build.sh builds',
    '`www/pkg` (opt-level z) into target/bench/web-pkg; it takes a JWKS only, so it cannot verify HS*.',
    'jose gets a CryptoKey imported once (WebCrypto). "WebCrypto" columns: the same, with the signature',
    'checked by `crypto.subtle.verify` (crates/js; `verifySubtle` of the binding, `verifyAsync` of the package),',
    'as the Worker and the package run ES256/EdDSA; HS* stays in Rust. "cached": the binding\'s `verifyCached`, through',
    'the core\'s `VerifiedCache` (the same token again: a lookup and the time rules; the package\'s `Verifier` always caches).',
    'The target is judged on the uncached paths. "ceiling": the same signature check through `crypto.subtle.verify`',
    'alone (signing input and signature prepared once, no JWT work), the most any WebCrypto path can reach; "jose / ceiling"',
    'is how close jose is to it (1.2x jose is out of reach where jose / ceiling > 0.83).', '',
    '| alg | mode | jose ops/s | ours ops/s | ours / jose | ours WebCrypto ops/s | / jose | ours cached ops/s | / jose | package ops/s | / jose | package WebCrypto ops/s | / jose | ceiling ops/s | jose / ceiling | target |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of node) {
    const target = r.alg === 'HS256' ? (r.mode === 'sequential' ? 20 : 4) : 1.2;
    const best = Math.max(r.ratio, r.subtle_ratio ?? 0);
    p(`| ${r.alg} | ${r.mode} | ${n(r.jose_ops)} | ${n(r.ours_ops)} | ${x(r.ratio)} | ${n(r.subtle_ops)} | ${x(r.subtle_ratio)} | ${n(r.cached_ops)} | ${x(r.cached_ratio)} | ${n(r.product_ops)} | ${x(r.product_ratio)} | ${n(r.product_subtle_ops)} | ${x(r.product_subtle_ratio)} | ${n(r.ceiling_ops)} | ${x(r.jose_ceiling_ratio)} | >= ${target}x: ${verdict(best >= target)} |`);
  }
  p('');
}
for (const [bench, where, how] of [
  ['jwt-workerd', 'workerd', 'Miniflare\'s workerd (what `wrangler dev` runs); a fixed number of operations per request, timed from outside (Workers clocks stand still between I/O)'],
  ['jwt-chromium', 'Chromium', 'Debian\'s Chromium, headless (playwright-core, the flags of www/tests/pages.test.mjs), timed in the page'],
]) {
  const rs = of(bench);
  if (!rs.length) continue;
  p(`## JWT validation in ${where}: ours (wasm) vs jose \`jwtVerify\``, '',
    `bench/${bench}.mjs: the bench binding (opt-level 3, wasm SIMD) built for the web (\`--target web\`) and jose 6 in the same ${where === 'workerd' ? 'isolate' : 'page'}, the`,
    `cases of bench/jwt-kernel.mjs; ${how}. "WebCrypto": the signature through \`crypto.subtle.verify\`; "cached": through \`VerifiedCache\`;`,
    '"ceiling": the same signature check through `crypto.subtle.verify` alone, no JWT work.', '',
    '| alg | mode | jose ops/s | ours ops/s | ours / jose | ours WebCrypto ops/s | / jose | ours cached ops/s | / jose | ceiling ops/s | jose / ceiling | ours WebCrypto / ceiling | target |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of rs) {
    const target = r.alg === 'HS256' ? null : 1.2;
    const best = Math.max(r.ratio, r.subtle_ratio ?? 0);
    p(`| ${r.alg} | ${r.mode} | ${n(r.jose_ops)} | ${n(r.ours_ops)} | ${x(r.ratio)} | ${n(r.subtle_ops)} | ${x(r.subtle_ratio)} | ${n(r.cached_ops)} | ${x(r.cached_ratio)} | ${n(r.ceiling_ops)} | ${x(r.jose_ceiling_ratio)} | ${x(r.subtle_ops && r.ceiling_ops && r.subtle_ops / r.ceiling_ops)} | ${target ? `>= ${target}x: ${verdict(best >= target)}` : '—'} |`);
  }
  p('');
}
const nat = of('jwt-native');
if (nat.length) {
  const inWasmtime = (alg) => of('jwt-wasmtime').find((r) => r.alg === alg && r.runtime === 'wasmtime');
  p('## JWT validation native and in wasmtime: ours vs raw jwt-compact (native)', '',
    '`cargo bench -p portcullis-bench --bench jwt`: the same token through `Validator::verify` (every rule:',
    'size, header, kid, alg, signature, exp/nbf/iat, iss, aud, type, sub/jti) and through raw jwt-compact',
    '(parse, signature, claims into a JSON map, exp, iss). "in wasmtime": the same cases (`crates/bench-wasmtime`)',
    'compiled to `wasm32-wasip2` and run by `crates/host/examples/run-command.rs` (the host\'s wasmtime), right after.', '',
    '| alg | jwt-compact native ops/s | ours native ops/s | ours native / jwt-compact | ours in wasmtime ops/s | ours in wasmtime / jwt-compact native |',
    '|---|---:|---:|---:|---:|---:|');
  for (const r of nat) {
    const w = inWasmtime(r.alg);
    p(`| ${r.alg} | ${n(r.jwt_compact_ops)} | ${n(r.ours_ops)} | ${x(r.ratio)} | ${w ? n(w.ours_ops) : '—'} | ${w ? x(w.ours_ops / r.jwt_compact_ops) : '—'} |`);
  }
  p('');
}
const http = of('http-serve');
if (http.length) {
  const pg = http.some((r) => r.pg_rps != null);
  const called = http.some((r) => r.called_rps != null);
  p(`## \`/auth\` on \`portcullis serve\` (SQLite + embedded KV${pg ? '; PostgreSQL + Redis' : ''}) vs a bare hyper server`, '',
    `\`wrk -t1 -cN --latency\` from a separate process, loopback, ${http[0].seconds} s per server and connection count in ${http[0].rounds ?? 1} interleaved round(s)`,
    '(every server up at once; each figure is the median of the rounds); ours answers `GET /auth?scope=read:all` with a user token (200);',
    `bare hyper (\`crates/bench/src/bin/bare-hyper.rs\`) answers 200 to anything.${called ? ' "ours" is `serve` as shipped: wrk repeats one token, so the host calls the component about once a second and answers the rest from memory (answer reuse, crates/host/README.md) until a KV key the answer read is written; "--no-reuse" is the same server calling the component for every request.' : ''}${pg ? ' "PG + Redis": the same server with `--sql postgres://` and `--kv redis://` (loopback servers of scripts/services.sh).' : ''}`, '',
    'CPU µs/req: the server process\'s user + system time (`/proc/PID/stat`) over its wrk runs, per request answered (median of the rounds).', '',
    `| connections | hyper req/s | hyper p50 | hyper p99 | ours req/s | ours p50 | ours p99 | ours / hyper | target >= 0.5x | CPU µs/req hyper | ours |${called ? ' --no-reuse req/s | p50 | p99 | / hyper | CPU µs/req |' : ''}${pg ? ' PG + Redis req/s | p50 | p99 | / hyper | CPU µs/req |' : ''}`,
    `|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|${called ? '---:|---:|---:|---:|---:|' : ''}${pg ? '---:|---:|---:|---:|---:|' : ''}`);
  for (const r of http) {
    const pgCells = pg ? ` ${n(r.pg_rps)} | ${ms(r.pg_p50_ms)} | ${ms(r.pg_p99_ms)} | ${x(r.pg_ratio)}${r.pg_non2xx ? ` (${r.pg_non2xx} non-2xx!)` : ''} | ${perRequest(r.pg_cpu_us)} |` : '';
    const calledCells = called ? ` ${n(r.called_rps)} | ${ms(r.called_p50_ms)} | ${ms(r.called_p99_ms)} | ${x(r.called_ratio)}${r.called_non2xx ? ` (${r.called_non2xx} non-2xx!)` : ''} | ${perRequest(r.called_cpu_us)} |` : '';
    p(`| ${r.connections} | ${n(r.hyper_rps)} | ${ms(r.hyper_p50_ms)} | ${ms(r.hyper_p99_ms)} | ${n(r.ours_rps)} | ${ms(r.ours_p50_ms)} | ${ms(r.ours_p99_ms)} | ${x(r.ratio)} | ${verdict(r.ratio >= 0.5)}${r.ours_non2xx ? ` (${r.ours_non2xx} non-2xx!)` : ''} | ${perRequest(r.hyper_cpu_us)} | ${perRequest(r.ours_cpu_us)} |${calledCells}${pgCells}`);
  }
  p('');
  const writes = http.filter((r) => r.ours_writes_rps != null);
  if (writes.length) {
    p('### Many users, while tokens are created', '',
      'The same servers and wrk runs, as many users: each request presents one of 1,000 user tokens drawn at random',
      '(`bench/random-token.lua`), while the benchmark creates more user tokens through the server\'s API (`POST /auth/api/v1/tokens`,',
      'one request at a time, each a KV write and SQL rows) at the rate given: the writes of logins and new tokens. A kept answer',
      'ends when a key its call read is written, and these writes are to other keys; each token\'s answer is still made anew',
      'every second. "hyper" is bare hyper under the same wrk script (it ignores the token): drawing a token for each request',
      'costs wrk CPU on the cores it shares with the server.', '',
      '| connections | hyper req/s | ours req/s | p99 | / hyper | tokens created/s | --no-reuse req/s | p99 | / hyper | tokens created/s |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    const bad = (count) => (count ? ` (${count} non-2xx!)` : '');
    for (const r of writes) {
      p(`| ${r.connections} | ${n(r.hyper_users_rps ?? r.hyper_rps)} | ${n(r.ours_writes_rps)} | ${ms(r.ours_writes_p99_ms)} | ${x(r.ours_writes_ratio)}${bad(r.ours_writes_non2xx)} | ${n(r.ours_writes_per_s)} | ${n(r.called_writes_rps)} | ${ms(r.called_writes_p99_ms)} | ${x(r.called_writes_ratio)}${bad(r.called_writes_non2xx)} | ${n(r.called_writes_per_s)} |`);
    }
    p('');
  }
}
// Rows from before the workerd setup was measured have no `setup`: they were under wrangler.
const SETUP_TEXT = {
  wrangler: ['under `wrangler dev --local` (workerd behind wrangler\'s local proxy)',
    'ours is the test build (`target/worker-bundle/test`) with local KV and D1, as tests/worker/harness.mjs starts it'],
  workerd: ['on Miniflare\'s workerd directly, each Worker in a workerd process of its own on a loopback port, no wrangler proxy in front',
    'ours is the Worker bundle of the Sizes table (opt-level z, wasm SIMD, as `npm run start:worker` serves it) with local KV and D1 (bench/workerd-direct.mjs)'],
};
const setupOf = (r) => r.setup ?? 'wrangler';
const rounding = (r) => (r.rounds ? `${r.seconds / r.rounds} s per Worker in each of ${r.rounds} interleaved rounds, medians` : `${r.seconds} s per Worker`);
const worker = of('http-worker');
const oauth = of('http-worker-oauth');
const setups = [...new Set([...worker, ...oauth].map(setupOf))].sort((a, b) => (a === 'workerd' ? -1 : b === 'workerd' ? 1 : 0));
for (const setup of setups) {
  const [how, which] = SETUP_TEXT[setup];
  const bares = worker.filter((r) => setupOf(r) === setup);
  const provs = oauth.filter((r) => setupOf(r) === setup);
  if (bares.length) {
    p(`## \`/auth\` of the Worker vs a bare Worker, ${setup === 'workerd' ? 'on workerd directly' : 'under wrangler dev'}`, '',
      `\`wrk -t1 -cN --latency\`, ${rounding(bares[0])}; every Worker ${how};`,
      `${which}; the bare Worker (\`bench/bare-worker.mjs\`) answers 200 to anything. The Workers of bench/worker.mjs in this setup`,
      '(these two, the workers-oauth-provider one below and any other it names) run at once and are measured back to back at each connection count.', '',
      '| connections | bare req/s | bare p50 | bare p99 | ours req/s | ours p50 | ours p99 | ours / bare |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of bares) {
      p(`| ${r.connections} | ${n(r.bare_rps)} | ${ms(r.bare_p50_ms)} | ${ms(r.bare_p99_ms)} | ${n(r.ours_rps)} | ${ms(r.ours_p50_ms)} | ${ms(r.ours_p99_ms)} | ${x(r.ratio)}${r.ours_non2xx ? ` (${r.ours_non2xx} non-2xx!)` : ''} |`);
    }
    p('');
  }
  if (provs.length) {
    const pkg = JSON.parse(readFileSync(new URL('./oauth-worker/package-lock.json', import.meta.url), 'utf8'));
    const version = pkg.packages['node_modules/@cloudflare/workers-oauth-provider']?.version ?? 'unknown';
    p(`## \`/auth\` of the Worker vs a workers-oauth-provider Worker, ${setup === 'workerd' ? 'on workerd directly' : 'under wrangler dev'}`, '',
      `The same \`wrk -t1 -cN --latency\` runs as above (${rounding(provs[0])}; ours is the same measurement). \`bench/oauth-worker\`: \`@cloudflare/workers-oauth-provider\``,
      `${version} (\`OAuthProvider\`, its own package.json) with \`/auth\` as its API route, in the same setup, its \`OAUTH_KV\` on local KV;`,
      'the access token is issued by the provider (a public client, the authorization-code flow with PKCE, its token endpoint), and each',
      'request goes through its validation (token hash, KV read, audience and expiry, key unwrap, props decryption) before a 200.',
      'Both Workers are checked to answer 200 to the token and 401 to a changed one before the runs.', '',
      '"ceiling": the bare Worker\'s requests/s over the provider\'s, measured at the same connection count: the most any Worker could reach',
      'against the provider in this setup, since a Worker that does anything cannot outrun one that answers 200 at once.', '');
    const extras = provs.some((r) => r.nocache_rps != null);
    if (extras) {
      p('"ours" runs with the vars of wrangler.toml, so a token validated in the last 5 s is checked against its hash in the isolate',
        '(`validation_cache_seconds`, docs/CONFIG.md) without a KV read; "ours, no cache" is the same Worker with',
        '`PORTCULLIS_VALIDATION_CACHE_SECONDS=0`, reading KV on every check. "KV read" is bench/kv-worker.mjs, one KV read and a 200:',
        'the most any Worker that reads KV on every request can do here.', '');
    }
    p(`| connections | oauth-provider req/s | oauth-provider p50 | oauth-provider p99 | ours req/s | ours p50 | ours p99 | ours / oauth-provider | ceiling (bare / oauth-provider) | target >= 2x, p99 no worse |${extras ? ' ours, no cache req/s | p99 | / oauth-provider | KV read req/s | / oauth-provider |' : ''}`,
      `|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|${extras ? '---:|---:|---:|---:|---:|' : ''}`);
    for (const r of provs) {
      const bad = (r.ours_non2xx ? ` (${r.ours_non2xx} non-2xx ours!)` : '') + (r.oauth_non2xx ? ` (${r.oauth_non2xx} non-2xx oauth-provider!)` : '')
        + (r.nocache_non2xx ? ` (${r.nocache_non2xx} non-2xx no cache!)` : '') + (r.kv_non2xx ? ` (${r.kv_non2xx} non-2xx KV read!)` : '');
      const bare = bares.find((w) => w.connections === r.connections);
      const ceiling = bare ? x(bare.bare_rps / r.oauth_rps) : '—';
      const more = extras ? ` ${n(r.nocache_rps)} | ${ms(r.nocache_p99_ms)} | ${x(r.nocache_rps / r.oauth_rps)} | ${n(r.kv_rps)} | ${x(r.kv_rps / r.oauth_rps)} |` : '';
      p(`| ${r.connections} | ${n(r.oauth_rps)} | ${ms(r.oauth_p50_ms)} | ${ms(r.oauth_p99_ms)} | ${n(r.ours_rps)} | ${ms(r.ours_p50_ms)} | ${ms(r.ours_p99_ms)} | ${x(r.ratio)} | ${ceiling} | ${verdict(r.ratio >= 2 && r.ours_p99_ms <= r.oauth_p99_ms)}${bad} |${more}`);
    }
    p('');
  }
}
if (http.length || worker.length) {
  p('![requests/s and p99 latency against connections, every server above](throughput.svg)', '',
    '[throughput.svg](throughput.svg) (bench/plot.mjs): requests/s and p99 latency against connections for the servers of the `/auth` tables above.', '');
}
const scaleHttp = of('scale-http');
const scale = of('scale-validate');
if (scaleHttp.length || scale.length) {
  p('## Scale: 1,000 vs 1,000,000 stored tokens (SQLite files, as the embedded default stores them)', '');
}
if (scaleHttp.length) {
  const small = Math.min(...scaleHttp.map((r) => r.tokens));
  const large = Math.max(...scaleHttp.map((r) => r.tokens));
  p('`/auth` on `portcullis serve` (bench/scale-http.mjs): `scale fill` makes a data directory holding N session tokens of',
    '1,000 users; the server runs on it and wrk sends `GET /auth?scope=read:all`, each request with a token drawn at random',
    `from the same-size working set (${n(scaleHttp[0].working_set)} stored tokens, spread evenly over the store), so only the store's size differs.`,
    `Both servers run at once and are measured in ${scaleHttp[0].rounds} interleaved rounds of ${scaleHttp[0].seconds} s; each figure is the median.`, '',
    '| stored tokens | connections | req/s | p50 | p99 |', '|---:|---:|---:|---:|---:|');
  const us = (v) => `${n(v * 1000)} µs`;
  for (const r of scaleHttp) p(`| ${n(r.tokens)} | ${r.connections} | ${n(r.rps)} | ${us(r.p50_ms)} | ${us(r.p99_ms)} |`);
  p('');
  for (const c of [...new Set(scaleHttp.map((r) => r.connections))]) {
    const at = (t) => scaleHttp.find((r) => r.connections === c && r.tokens === t);
    const ratio = at(large).p50_ms / at(small).p50_ms;
    p(`- ${c} connection${c === 1 ? '' : 's'}: p50 with ${n(large)} / p50 with ${n(small)}: ${x(ratio)} (target <= 1.5x: ${verdict(ratio <= 1.5)}${large < 1e6 ? ', not measured at 1,000,000' : ''}); p99 ${x(at(large).p99_ms / at(small).p99_ms)}.`);
  }
  p('');
}
if (scale.length) {
  p('The same stores through the core API in one process (`scale fill`: `TokenService::validate`, the `/auth` path: KV read,',
    'unseal, hash compare), the same 1,000 tokens looked up 5 times each in a fixed shuffled order:', '',
    '| stored tokens | fill time | lookups | p50 | p99 |', '|---:|---:|---:|---:|---:|');
  for (const r of scale) p(`| ${n(r.tokens)} | ${r.fill_seconds} s | ${n(r.lookups)} | ${r.p50_us} µs | ${r.p99_us} µs |`);
  if (scale.length > 1) p('', `p50 ${n(scale.at(-1).tokens)} / p50 ${n(scale[0].tokens)}: ${x(scale.at(-1).p50_us / scale[0].p50_us)}.`);
  p('');
}
const ops = ['scale-delete-expired', 'scale-list-tokens', 'scale-descendants', 'scale-revoke-tree'].flatMap(of);
if (ops.length) {
  p('Operations at scale (`scale ops`, core API on SQLite files):', '');
  for (const r of of('scale-delete-expired')) p(`- \`delete_expired\` on ${n(r.tokens)} expired tokens: ${r.seconds} s (${n(r.deleted)} deleted).`);
  for (const r of of('scale-list-tokens')) p(`- Listing a user's ${n(r.tokens)} tokens (\`list_tokens\`, what \`GET /users/{username}/tokens\` runs): ${r.median_seconds} s (median of ${r.runs}).`);
  for (const r of of('scale-descendants')) p(`- Finding a token's ${n(r.descendants)} descendants, ${r.depth} levels deep (\`get_children\`, the recursive query revocation walks, through \`TokenService::descendants\`): ${r.median_seconds} s (median of ${r.runs}).`);
  for (const r of of('scale-revoke-tree')) p(`- Revoking ${r.depth ? `that token` : 'a token'} with ${n(r.descendants)} ${r.depth ? 'descendants' : 'child tokens'} (\`delete_token\`: every descendant's KV record, SQL row and history entry): ${r.seconds} s.`);
  p('');
}
const start = of('instantiate-wasmtime');
if (start.length) {
  const r = start[0];
  p('## Start-up of the component on wasmtime', '',
    '`crates/host/examples/instantiate.rs` on the component of the Sizes table: Cranelift compiling it, loading it compiled (what',
    '`portcullis serve` does from its cache after the first start), instantiating it from an `InstancePre` (a new store each),',
    "and a new instance's first request (`GET /health` through `bodyless-http`, the guest parsing its settings and building its API).", '',
    '| step | p50 | p99 |', '|---|---:|---:|',
    `| compile (once) | ${n(r.compile_ms)} ms | — |`,
    `| load compiled (once) | ${r.load_compiled_ms} ms | — |`,
    `| instantiate, on-demand allocator (${n(r.instantiations)} times) | ${n(r.on_demand_p50_us)} µs | ${n(r.on_demand_p99_us)} µs |`,
    `| instantiate, pooling allocator (${n(r.instantiations)} times) | ${n(r.pooling_p50_us)} µs | ${n(r.pooling_p99_us)} µs |`,
    `| instantiate (pooling) + first request (${n(r.instantiations)} times) | ${n(r.first_request_p50_us)} µs | ${n(r.first_request_p99_us)} µs |`, '');
}
const workerStart = of('start-workerd');
if (workerStart.length) {
  const r = workerStart[0];
  p('## Start-up of the Worker on workerd', '',
    '`bench/worker-start.mjs`: Miniflare\'s workerd started with the Worker bundle of the Sizes table (local KV and D1 in memory) until',
    'ready (the process up, the script loaded, its wasm compiled), then the first `GET /health` (the service built: settings, key ring,',
    `the D1 schema check) and a warm one; the same for the bare Worker, the floor. Medians of ${r.rounds} alternating rounds.`, '',
    '| | ready | first request | warm request |', '|---|---:|---:|---:|',
    `| ours | ${r.ours_ready_ms} ms | ${r.ours_first_ms} ms | ${r.ours_warm_ms} ms |`,
    `| bare Worker | ${r.bare_ready_ms} ms | ${r.bare_first_ms} ms | ${r.bare_warm_ms} ms |`,
    `| ours - bare | ${(r.ours_ready_ms - r.bare_ready_ms).toFixed(1)} ms | ${(r.ours_first_ms - r.bare_first_ms).toFixed(1)} ms | ${(r.ours_warm_ms - r.bare_warm_ms).toFixed(1)} ms |`, '');
}
const sizes = of('size');
if (sizes.length) {
  p('## Sizes', '', '| artifact | bytes | gzip -9 | budget |', '|---|---:|---:|---|');
  for (const r of sizes) p(`| ${r.what} | ${n(r.raw)} | ${n(r.gzip)} (${(r.gzip / 1024).toFixed(0)} KB) | ${r.budget ? `${r.budget / 1024} KB: ${verdict(r.gzip <= r.budget)}` : '—'} |`);
  p('');
}
try { p(readFileSync(new URL('./NOTES.md', import.meta.url), 'utf8')); } catch {}
console.log(out.join('\n'));
