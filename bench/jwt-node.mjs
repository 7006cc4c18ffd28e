// JWT validation in Node/V8: ours (the core compiled to wasm) vs jose 6 `jwtVerify`, same tokens,
// same process. Sequential and with N in flight. Every measurement is bounded by time and count.
// ES256 and EdDSA are measured twice: the signature in pure Rust (wasm), and through WebCrypto
// (crates/js, `verifySubtle` / the browser package's `verifyAsync`), as Workers and pages run them.
// "cached": the binding's `verifyCached`, through the core's verified-token cache (the same token
// again is a lookup plus the time rules); the browser package's `Verifier` always caches.
// "ceiling": the same signature check through `crypto.subtle.verify` alone, with no JWT work.
// Usage: node bench/jwt-node.mjs <bench-binding-dir> <browser-package-dir> [seconds]   (prints one JSON line per case)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import * as jose from 'jose';

const require = createRequire(import.meta.url);
const bindingDir = resolve(process.argv[2] ?? 'target/bench/node-pkg');
const { BenchVerifier } = require(`${bindingDir}/portcullis_bench.js`);
const webDir = resolve(process.argv[3] ?? 'www/pkg');
const { default: initWeb, Verifier } = await import(`${webDir}/portcullis_web.js`);
const ROUNDS = 3;
// Seconds per implementation and mode, split over the rounds.
const SECONDS = Number(process.argv[4] ?? process.env.PORTCULLIS_BENCH_SECONDS ?? 2) / ROUNDS;
const MAX_OPS = 5_000_000;
const IN_FLIGHT = 64;
const ISS = 'https://auth.example', AUD = 'api';

await initWeb({ module_or_path: readFileSync(`${webDir}/portcullis_web_bg.wasm`) });

async function sequential(fn) {
  for (let i = 0; i < 50; i++) await fn();
  const start = performance.now(), end = start + SECONDS * 1000;
  let n = 0;
  while (n < MAX_OPS && performance.now() < end) {
    for (let i = 0; i < 50; i++) await fn();
    n += 50;
  }
  return n / ((performance.now() - start) / 1000);
}

async function concurrent(fn, inFlight = IN_FLIGHT) {
  for (let i = 0; i < 50; i++) await fn();
  const start = performance.now(), end = start + SECONDS * 1000;
  let n = 0;
  const worker = async () => {
    while (n < MAX_OPS && performance.now() < end) {
      await fn();
      n++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return n / ((performance.now() - start) / 1000);
}

async function setup(alg) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: ISS, aud: AUD, sub: 'alice', jti: 'bench-jti-0001', type: 'access' };
  let signKey, joseKey, ours, product = null;
  const kid = 'bench-key';
  if (alg === 'HS256') {
    const secret = new Uint8Array(32).fill(42);
    joseKey = await crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    signKey = secret;
    ours = BenchVerifier.hmac(alg, secret, ISS, AUD, 'access');
  } else {
    const pair = await jose.generateKeyPair(alg, { crv: alg === 'EdDSA' ? 'Ed25519' : undefined, extractable: true });
    signKey = pair.privateKey;
    joseKey = pair.publicKey;
    const jwk = { ...(await jose.exportJWK(pair.publicKey)), alg, use: 'sig', kid };
    const jwks = JSON.stringify({ keys: [jwk] });
    ours = BenchVerifier.jwks(jwks, ISS, AUD, 'access');
    product = new Verifier(jwks);
  }
  const token = await new jose.SignJWT(payload).setProtectedHeader({ alg, kid: ours.kid(), typ: 'JWT' })
    .setIssuedAt(now - 10).setExpirationTime(now + 3600).sign(signKey);
  return { token, joseKey, ours, product };
}

for (const alg of ['HS256', 'ES256', 'EdDSA']) {
  const { token, joseKey, ours, product } = await setup(alg);
  const now = () => Math.floor(Date.now() / 1000);
  const joseOpts = { issuer: ISS, audience: AUD, algorithms: [alg] };
  const productOpts = { issuer: ISS, audience: AUD, types: ['access'] };
  const joseVerify = async () => { const r = await jose.jwtVerify(token, joseKey, joseOpts); if (r.payload.sub !== 'alice') throw new Error('jose'); };
  const oursVerify = async () => { const c = ours.verify(token, now()); if (c.sub !== 'alice') throw new Error('ours'); };
  const productVerify = async () => { const c = product.verify(token, productOpts); if (c.sub !== 'alice') throw new Error('product'); };
  const cachedVerify = async () => { const c = ours.verifyCached(token, now()); if (c.sub !== 'alice') throw new Error('cached'); };
  const subtleVerify = async () => { const c = await ours.verifySubtle(token, now()); if (c.sub !== 'alice') throw new Error('subtle'); };
  const productSubtle = async () => { const c = await product.verifyAsync(token, productOpts); if (c.sub !== 'alice') throw new Error('product async'); };
  // The ceiling: the same signature check through crypto.subtle.verify alone, no JWT work.
  const [head, body, sig] = token.split('.');
  const data = new TextEncoder().encode(`${head}.${body}`), signature = jose.base64url.decode(sig);
  const params = { HS256: 'HMAC', ES256: { name: 'ECDSA', hash: 'SHA-256' }, EdDSA: 'Ed25519' }[alg];
  const ceiling = async () => { if (!(await crypto.subtle.verify(params, joseKey, signature, data))) throw new Error('ceiling'); };
  await joseVerify(); await oursVerify(); await cachedVerify(); if (product) { await productVerify(); await subtleVerify(); await productSubtle(); }
  const round = (ops) => ops && Math.round(ops);
  const ratio = (ops, base) => ops && +(ops / base).toFixed(3);
  const fns = { jose: joseVerify, ours: oursVerify, cached: cachedVerify, ceiling };
  if (product) Object.assign(fns, { product: productVerify, subtle: subtleVerify, productSubtle });
  for (const [mode, run] of [['sequential', sequential], [`${IN_FLIGHT} in flight`, concurrent]]) {
    // ROUNDS interleaved rounds, the median of each: other load on the machine hits all alike.
    const rates = Object.fromEntries(Object.keys(fns).map((name) => [name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, fn] of Object.entries(fns)) rates[name].push(await run(fn));
    }
    const median = (name) => rates[name] && rates[name].sort((a, b) => a - b)[rates[name].length >> 1];
    const [joseOps, oursOps, cachedOps] = [median('jose'), median('ours'), median('cached')];
    const [productOps, subtleOps, productSubtleOps] = [median('product'), median('subtle'), median('productSubtle')];
    const ceilingOps = median('ceiling');
    console.log(JSON.stringify({
      bench: 'jwt-node', alg, mode, jose_ops: round(joseOps), ours_ops: round(oursOps), ratio: ratio(oursOps, joseOps),
      product_ops: round(productOps), product_ratio: ratio(productOps, joseOps),
      cached_ops: round(cachedOps), cached_ratio: ratio(cachedOps, joseOps),
      subtle_ops: round(subtleOps), subtle_ratio: ratio(subtleOps, joseOps),
      product_subtle_ops: round(productSubtleOps), product_subtle_ratio: ratio(productSubtleOps, joseOps),
      ceiling_ops: round(ceilingOps), jose_ceiling_ratio: ratio(joseOps, ceilingOps),
    }));
  }
}
