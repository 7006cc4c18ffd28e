// The JWT benchmark cases shared by the workerd and Chromium runners (bench/jwt-workerd.mjs,
// bench/jwt-chromium.mjs): the same tokens and checks as bench/jwt-node.mjs, with jose and the
// bench binding passed in, so the module runs unchanged in any runtime with WebCrypto.
export const ISS = 'https://auth.example';
export const AUD = 'api';
export const IN_FLIGHT = 64;

// The verify functions of one algorithm: jose, ours with the signature in Rust, and ours with
// it in WebCrypto (ES256/EdDSA only). Each throws unless the token verifies as alice's.
export async function prepare(alg, jose, BenchVerifier) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: ISS, aud: AUD, sub: 'alice', jti: 'bench-jti-0001', type: 'access' };
  let signKey, joseKey, ours;
  if (alg === 'HS256') {
    const secret = new Uint8Array(32).fill(42);
    joseKey = await crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    signKey = secret;
    ours = BenchVerifier.hmac(alg, secret, ISS, AUD, 'access');
  } else {
    const pair = await jose.generateKeyPair(alg, { crv: alg === 'EdDSA' ? 'Ed25519' : undefined, extractable: true });
    signKey = pair.privateKey;
    joseKey = pair.publicKey;
    const jwk = { ...(await jose.exportJWK(pair.publicKey)), alg, use: 'sig', kid: 'bench-key' };
    ours = BenchVerifier.jwks(JSON.stringify({ keys: [jwk] }), ISS, AUD, 'access');
  }
  const token = await new jose.SignJWT(payload).setProtectedHeader({ alg, kid: ours.kid(), typ: 'JWT' })
    .setIssuedAt(now - 10).setExpirationTime(now + 3600).sign(signKey);
  const joseOpts = { issuer: ISS, audience: AUD, algorithms: [alg] };
  const seconds = () => Math.floor(Date.now() / 1000);
  const fns = {
    jose: async () => { const r = await jose.jwtVerify(token, joseKey, joseOpts); if (r.payload.sub !== 'alice') throw new Error('jose'); },
    ours: async () => { const c = ours.verify(token, seconds()); if (c.sub !== 'alice') throw new Error('ours'); },
    cached: async () => { const c = ours.verifyCached(token, seconds()); if (c.sub !== 'alice') throw new Error('cached'); },
  };
  // The ceiling: the same signature check through crypto.subtle.verify alone, no JWT work
  // (the signature decoded and the signing input encoded once, outside the loop).
  const [head, body, sig] = token.split('.');
  const data = new TextEncoder().encode(`${head}.${body}`), signature = jose.base64url.decode(sig);
  const params = { HS256: 'HMAC', ES256: { name: 'ECDSA', hash: 'SHA-256' }, EdDSA: 'Ed25519' }[alg];
  fns.ceiling = async () => { if (!(await crypto.subtle.verify(params, joseKey, signature, data))) throw new Error('ceiling'); };
  if (alg !== 'HS256') {
    fns.subtle = async () => { const c = await ours.verifySubtle(token, seconds()); if (c.sub !== 'alice') throw new Error('subtle'); };
    // The same through one Rust future (wasm-bindgen-futures), as verifySubtle ran before: for A/B runs.
    if (ours.verifySubtleFuture) fns.subtleFuture = async () => { const c = await ours.verifySubtleFuture(token, seconds()); if (c.sub !== 'alice') throw new Error('subtleFuture'); };
  }
  for (const fn of Object.values(fns)) await fn();
  return { fns, counts: () => ours.counts() };
}

// Runs `fn` `count` times, one at a time or `inFlight` at once.
export async function runCount(fn, count, inFlight = 1) {
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      await fn();
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
}
