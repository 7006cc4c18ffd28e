// The workers-oauth-provider baseline of bench/worker.mjs: a Worker whose `/auth` is an
// OAuthProvider API route, so every request to it goes through the provider's own bearer-token
// validation (hash the token, read its record from the OAUTH_KV binding, check audience and
// expiry, unwrap the key and decrypt the grant's props) before the handler answers 200.
//
// To get a real token the benchmark registers a public client (POST /bench/client) and runs the
// authorization-code flow with PKCE: /authorize approves at once (no sign-in or consent page: a
// benchmark stub) through env.OAUTH_PROVIDER.completeAuthorization, and the provider's own token
// endpoint exchanges the code. BENCH_ORIGIN (a var the benchmark writes) is the loopback origin
// the Worker is served on; the protected resource is `${BENCH_ORIGIN}/auth`.
import { OAuthProvider } from '@cloudflare/workers-oauth-provider';

const SCOPE = 'read:all';

const apiHandler = {
  fetch(request, env, ctx) {
    return new Response(null, { status: ctx.auth.scope.includes(SCOPE) ? 200 : 403 });
  },
};

const defaultHandler = {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === '/bench/client' && request.method === 'POST') {
      const { redirectUri } = await request.json();
      const client = await env.OAUTH_PROVIDER.createClient({
        redirectUris: [redirectUri], tokenEndpointAuthMethod: 'none', clientName: 'bench',
      });
      return Response.json({ clientId: client.clientId });
    }
    if (pathname === '/authorize') {
      const authRequest = await env.OAUTH_PROVIDER.parseAuthRequest(request);
      const { redirectTo } = await env.OAUTH_PROVIDER.completeAuthorization({
        request: authRequest, userId: 'benchuser', metadata: {}, scope: authRequest.scope, props: { userId: 'benchuser' },
      });
      return Response.redirect(redirectTo, 302);
    }
    return new Response(null, { status: 404 });
  },
};

let provider;
let origin;

export default {
  fetch(request, env, ctx) {
    if (!provider || origin !== env.BENCH_ORIGIN) {
      origin = env.BENCH_ORIGIN;
      provider = new OAuthProvider({
        apiRoute: '/auth',
        apiHandler,
        defaultHandler,
        authorizeEndpoint: '/authorize',
        tokenEndpoint: '/oauth/token',
        scopesSupported: [SCOPE],
        resourceMetadata: { resource: `${origin}/auth` },
      });
    }
    return provider.fetch(request, env, ctx);
  },
};
