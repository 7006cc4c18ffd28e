// Interop with the real `jose` library, both ways: jose verifies tokens the core issued (with
// the core's JWKS, or the shared secret for HS512), and the core verifies tokens jose signed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as jose from 'jose';

const CLI = process.env.PORTCULLIS_JWT_CLI ?? new URL('../../target/debug/portcullis-jwt', import.meta.url).pathname;
const NOW = Math.floor(Date.now() / 1000);

function cli(request) {
  const out = execFileSync(CLI, { input: JSON.stringify(request), timeout: 30_000 });
  return JSON.parse(out.toString());
}

const verifyOptions = { issuer: 'portcullis', audience: 'portcullis', currentDate: new Date(NOW * 1000) };

for (const alg of ['HS512', 'EdDSA', 'ES256']) {
  test(`jose verifies a ${alg} token the core issued`, async () => {
    const issued = cli({ cmd: 'issue', alg, now: NOW, claims: { sub: 'alice', type: 'access', jti: 'j1' } });
    const key = alg === 'HS512'
      ? jose.base64url.decode(issued.secret)
      : jose.createLocalJWKSet(issued.jwks);
    const { payload, protectedHeader } = await jose.jwtVerify(issued.token, key, { ...verifyOptions, algorithms: [alg] });
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.type, 'access');
    assert.equal(protectedHeader.kid, issued.kid);
    if (alg !== 'HS512') {
      // The kid is the RFC 7638 thumbprint of the published key.
      assert.equal(await jose.calculateJwkThumbprint(issued.jwks.keys[0]), issued.kid);
      assert.equal(issued.jwks.keys[0].d, undefined);
    }
    const tampered = issued.token.slice(0, -4) + (issued.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    await assert.rejects(jose.jwtVerify(tampered, key, verifyOptions));
  });
}

async function joseSigned(alg) {
  let privateKey, jwk;
  if (alg === 'HS512') {
    const secret = crypto.getRandomValues(new Uint8Array(64));
    privateKey = secret;
    jwk = { kty: 'oct', k: jose.base64url.encode(secret) };
  } else {
    const pair = await jose.generateKeyPair(alg, { extractable: true, crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
    privateKey = pair.privateKey;
    jwk = await jose.exportJWK(pair.publicKey);
    jwk.alg = alg;
    jwk.use = 'sig';
  }
  const kid = await jose.calculateJwkThumbprint(jwk);
  jwk.kid = kid;
  const token = await new jose.SignJWT({ type: 'api', datasets: { 'plants/*': ['read'] } })
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .setIssuer('portcullis').setAudience('portcullis').setSubject('bob').setJti('jose-jti')
    .setIssuedAt(NOW).setExpirationTime(NOW + 600)
    .sign(privateKey);
  return { token, jwk };
}

for (const alg of ['HS512', 'EdDSA', 'ES256', 'RS256']) {
  test(`the core verifies a ${alg} token jose signed`, async () => {
    const { token, jwk } = await joseSigned(alg);
    const keys = alg === 'HS512' ? { alg, secret: jwk.k } : { jwks: { keys: [jwk] } };
    const ok = cli({ cmd: 'verify', token, now: NOW, type: 'api', ...keys });
    assert.deepEqual([ok.ok, ok.sub, ok.alg], [true, 'bob', alg], JSON.stringify(ok));
    assert.deepEqual(ok.extra.datasets, { 'plants/*': ['read'] });
    // The wrong type, a tampered signature and a later time are refused.
    assert.equal(cli({ cmd: 'verify', token, now: NOW, type: 'refresh', ...keys }).kind, 'wrong_type');
    const tampered = token.replace(/\.[^.]+$/, (sig) => sig.slice(0, -2) + (sig.endsWith('AA') ? 'BB' : 'AA'));
    assert.equal(cli({ cmd: 'verify', token: tampered, now: NOW, type: 'api', ...keys }).ok, false);
    assert.equal(cli({ cmd: 'verify', token, now: NOW + 700, type: 'api', ...keys }).kind, 'expired');
  });
}

test('the core refuses alg none and HS256 keyed with a public key', async () => {
  const { jwk } = await joseSigned('ES256');
  const header = jose.base64url.encode(JSON.stringify({ alg: 'none', kid: jwk.kid, typ: 'JWT' }));
  const claims = jose.base64url.encode(JSON.stringify({ iss: 'portcullis', aud: 'portcullis', sub: 'x', jti: 'j', type: 'api', iat: NOW, exp: NOW + 60 }));
  assert.equal(cli({ cmd: 'verify', token: `${header}.${claims}.`, now: NOW, type: 'api', jwks: { keys: [jwk] } }).ok, false);
  const confused = await new jose.SignJWT({ type: 'api' })
    .setProtectedHeader({ alg: 'HS256', kid: jwk.kid })
    .setIssuer('portcullis').setAudience('portcullis').setSubject('x').setJti('j').setIssuedAt(NOW).setExpirationTime(NOW + 60)
    .sign(new TextEncoder().encode(JSON.stringify(jwk)));
  const result = cli({ cmd: 'verify', token: confused, now: NOW, type: 'api', jwks: { keys: [jwk] } });
  assert.equal(result.ok, false);
  assert.equal(result.kind, 'algorithm_mismatch');
});
