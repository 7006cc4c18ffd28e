// The JWT conformance vectors (tests/vectors/jwt.json) through both signature providers of the
// wasm build: pure Rust, and Node's WebCrypto (crates/js, as the Worker and the browser
// package use it), through the core's CryptoProvider and in two steps around WebCrypto's own
// promise (`runSplit`, as the bench binding's verifySubtle). Every case must give its expected outcome and exactly the same outcome (valid
// or not, the failing rule's kind and message, every rule of the report) under both.
// Needs the bench binding built for Node (scripts/test.sh builds it):
//   cargo build --release -p portcullis-bench --lib --target wasm32-unknown-unknown
//   wasm-bindgen --target nodejs --out-dir <dir> --out-name portcullis_bench <wasm>
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const dir = process.env.PORTCULLIS_BENCH_PKG ?? new URL('../../target/webcrypto-test/node-pkg', import.meta.url).pathname;
const { BenchVerifier, Conformance } = require(`${dir}/portcullis_bench.js`);
const doc = JSON.parse(readFileSync(new URL('../vectors/jwt.json', import.meta.url), 'utf8'));

test('every vector gives the same outcome through WebCrypto as through pure Rust', async () => {
  const suite = new Conformance(JSON.stringify(doc.keys));
  assert.ok(doc.cases.length >= 90, 'vectors went missing');
  for (const c of doc.cases) {
    const text = JSON.stringify(c);
    const rust = JSON.parse(await suite.run(text, false));
    // Split first: a kid's first case imports its key on that path, the later ones take
    // WebCrypto's promise directly.
    const split = JSON.parse(await suite.runSplit(text));
    const subtle = JSON.parse(await suite.run(text, true));
    assert.deepEqual(subtle, rust, `${c.name}: the providers disagree`);
    assert.deepEqual(split, rust, `${c.name}: verified in two steps, WebCrypto disagrees`);
    assert.equal(rust.valid, c.expect.valid, `${c.name}: ${rust.error ?? 'accepted'} (${rust.message ?? ''})`);
    if (c.expect.valid) {
      for (const [name, want] of Object.entries(c.expect)) {
        if (name !== 'valid') assert.deepEqual(rust[name], want, `${c.name}: ${name}`);
      }
    } else {
      assert.equal(rust.error, c.expect.error, `${c.name}: ${rust.message}`);
    }
    if (c.check === 'full') assert.equal(rust.report_passed, rust.valid, `${c.name}: report and verify disagree`);
  }
  const [subtleChecks, rustChecks] = suite.counts();
  assert.ok(subtleChecks >= 6, `WebCrypto checked only ${subtleChecks} signatures (${rustChecks} in Rust)`);
});

// jose signs; both providers must agree on the genuine signature, on tampered ones, and on the
// high-S twin of each ECDSA signature (n - s, which neither side rejects for being high).
test('jose-signed ES256 and EdDSA tokens, tampered and high-S ones agree across providers', async () => {
  const jose = await import('jose');
  const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
  for (const alg of ['ES256', 'EdDSA']) {
    for (let k = 0; k < 4; k++) {
      const pair = await jose.generateKeyPair(alg, { crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
      const jwk = await jose.exportJWK(pair.publicKey);
      const suite = new Conformance(JSON.stringify({ k: jwk }));
      for (let i = 0; i < 8; i++) {
        const payload = new TextEncoder().encode(JSON.stringify({ i, r: Math.random() }));
        const token = await new jose.CompactSign(payload).setProtectedHeader({ alg }).sign(pair.privateKey);
        const [h, p, s] = token.split('.');
        const sig = Buffer.from(s, 'base64url');
        const variants = [token, `${h}.${p}.${s.slice(0, -3)}${s.endsWith('AAA') ? 'BBB' : 'AAA'}`, `${h}.${p}x.${s}`];
        if (alg === 'ES256') {
          const high = (N - BigInt(`0x${sig.subarray(32).toString('hex')}`)).toString(16).padStart(64, '0');
          variants.push(`${h}.${p}.${Buffer.concat([sig.subarray(0, 32), Buffer.from(high, 'hex')]).toString('base64url')}`);
          variants.push(`${h}.${p}.${Buffer.alloc(64).toString('base64url')}`);
        }
        for (const [n, t] of variants.entries()) {
          const c = JSON.stringify({ check: 'signature_only', key: 'k', token: t });
          const rust = JSON.parse(await suite.run(c, false));
          const subtle = JSON.parse(await suite.run(c, true));
          assert.deepEqual(subtle, rust, `${alg} variant ${n}`);
          if (n === 0) assert.equal(rust.valid, true, `${alg}: ${rust.message}`);
        }
      }
      assert.ok(suite.counts()[0] > 0, `${alg}: WebCrypto was not used`);
    }
  }
});

test('a tampered ES256 or EdDSA signature fails through WebCrypto as through pure Rust', async () => {
  const suite = new Conformance(JSON.stringify(doc.keys));
  const valid = doc.cases.filter((c) => c.expect.valid && /"alg":"(ES256|EdDSA)"/.test(header(c.token)));
  assert.ok(valid.length >= 2);
  for (const c of valid) {
    const sig = c.token.slice(c.token.lastIndexOf('.') + 1);
    for (const at of [0, 10, sig.length - 2]) {
      const flipped = sig.slice(0, at) + (sig[at] === 'A' ? 'B' : 'A') + sig.slice(at + 1);
      const tampered = { ...c, token: c.token.slice(0, c.token.length - sig.length) + flipped };
      const rust = JSON.parse(await suite.run(JSON.stringify(tampered), false));
      const subtle = JSON.parse(await suite.run(JSON.stringify(tampered), true));
      const split = JSON.parse(await suite.runSplit(JSON.stringify(tampered)));
      assert.deepEqual(subtle, rust, `${c.name} at ${at}`);
      assert.deepEqual(split, rust, `${c.name} at ${at}, in two steps`);
      assert.equal(subtle.valid, false, `${c.name} at ${at}`);
    }
  }
});

// Claims without application members cross as one string sliced apart in JavaScript (crates/js
// claims.js), with them as a JSON text: either way the object must be the token's payload (with
// `aud` an array) and serialize to exactly the JSON text, members in name order. Non-ASCII text
// in every member shifts the slices' offsets, in UTF-16 units.
test('verified claims reach JavaScript as the token wrote them, by either path', async () => {
  const jose = await import('jose');
  const iss = 'https://\u00e4uth.example/\u{1f511}', secret = new Uint8Array(32).fill(7);
  const ours = BenchVerifier.hmac('HS256', secret, iss, 'api', 'access');
  const now = 1_800_000_000;
  const payloads = [
    { sub: 'alice', jti: 'j-1', aud: 'api' },
    { sub: 'zo\u00eb \u65e5\u672c', jti: '\u{1f511}-2', aud: ['\u00fcber', 'api', '\u{1f600}'] },
    { sub: 'q"uo\\te\n\u0000', jti: 'j-3', aud: ['api'], nbf: now - 5 },
    { sub: 'bob', jti: 'j-4', aud: 'api', exp: 2 ** 40 },
    { sub: 'carol \u00e9', jti: 'j-5', aud: ['api', 'x'], nbf: now, datasets: { 'plants/*': ['read'] }, a: 1, zz: [null, true, 2.5] },
  ];
  for (const [i, claims] of payloads.entries()) {
    const payload = { iss, type: 'access', iat: now - 10, exp: now + 600, ...claims };
    const token = await new jose.SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: ours.kid(), typ: 'JWT' }).sign(secret);
    const object = ours.verify(token, now);
    assert.deepEqual(object, { ...payload, aud: [payload.aud].flat() }, `payload ${i}`);
    assert.equal(JSON.stringify(object), ours.verifyJson(token, now), `payload ${i}: members or their order`);
  }
});

function header(token) {
  return Buffer.from(token.split('.')[0], 'base64url').toString();
}

// Tokens cross into wasm by TextEncoder.encodeInto (crates/js `string_from_js`), not
// wasm-bindgen's own copy: any JavaScript string arrives as its UTF-8 text, lone surrogates as
// U+FFFD, and fails as that text would.
test('any JavaScript string reaches the verifier as its UTF-8 text', async () => {
  const jose = await import('jose');
  const secret = new Uint8Array(32).fill(9), now = 1_800_000_000;
  const ours = BenchVerifier.hmac('HS256', secret, 'https://iss.example', 'api', 'access');
  const token = await new jose.SignJWT({ iss: 'https://iss.example', aud: 'api', sub: 'alice', jti: 'j', type: 'access' })
    .setProtectedHeader({ alg: 'HS256', kid: ours.kid(), typ: 'JWT' }).setIssuedAt(now - 10).setExpirationTime(now + 60).sign(secret);
  const kind = (fn) => { try { fn(); } catch (e) { return e; } return 'passed'; };
  for (const [name, verify] of [['verify', (t) => ours.verify(t, now)], ['verifyCached', (t) => ours.verifyCached(t, now)]]) {
    assert.equal(verify(token).sub, 'alice', name);
    assert.equal(kind(() => verify(`${token}\u00e9`)), 'malformed', `${name}: non-ASCII`);
    assert.equal(kind(() => verify(`${token.slice(0, -1)}\ud800`)), 'malformed', `${name}: lone surrogate`);
    assert.equal(kind(() => verify('')), 'malformed', `${name}: empty`);
    // 4,200 UTF-16 units, 8,400 bytes: over the 8 KiB limit, which counts bytes.
    assert.equal(kind(() => verify('\u{1f511}'.repeat(2100))), 'oversize', `${name}: long`);
  }
  assert.equal(ours.check(token, now), true);
  assert.equal(ours.check(`${token}\ud800`, now), false);
  assert.equal((await ours.verifySubtle(token, now)).sub, 'alice');
  assert.equal(await ours.verifySubtle(`\ud800${token}`, now).catch((e) => e), 'malformed');
});
