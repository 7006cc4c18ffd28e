// The HTTP API of SPEC 8 as a client sees it, for any running Portcullis: the Worker on local
// workerd (tests/worker/), and any other host that serves the same API.
//
//   import { httpSuite } from "../http/suite.mjs";
//   httpSuite({ baseUrl, bootstrapToken, knownScopes, jwt: true });
//
// `baseUrl` has no trailing slash; `bootstrapToken` is the configured PORTCULLIS_BOOTSTRAP_TOKEN;
// `knownScopes` must include read:all and exec:notebook; `jwt` says whether a JWT key or secret is
// configured. Every test uses its own usernames, so the suite runs against shared state.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import https from "node:https";

/** A fresh valid username. */
export function username(prefix = "u") {
  return `${prefix}${randomBytes(5).toString("hex")}`;
}

/**
 * A client for `baseUrl`: `call(method, path, {token, json, body, headers})` ->
 * `{status, headers, data, text}`. It speaks plain HTTP through node:http, not fetch: fetch marks
 * every request `Sec-Fetch-Mode: cors`, as a browser would, and the bootstrap token is refused on
 * browser requests.
 */
export function client(baseUrl) {
  return async function call(method, path, { token, json, body, headers = {} } = {}) {
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    const r = await send(new URL(path, baseUrl), method, { headers: h, json, body, timeoutMs: 15_000 });
    return { ...r, headers: new Headers(flatten(r.headers)) };
  };
}

/**
 * One request through node:http (or https): `json` is sent as a JSON body, else `body` as is.
 * Answers `{status, headers (node's object), data (parsed JSON, else the text), text}`.
 */
export function send(url, method, { headers = {}, json, body, agent = false, timeoutMs }) {
  const h = { ...headers };
  if (json !== undefined) {
    h["content-type"] = "application/json";
    body = JSON.stringify(json);
  }
  if (body !== undefined) h["content-length"] = Buffer.byteLength(body);
  return new Promise((resolve, reject) => {
    const req = (url.protocol === "https:" ? https : http).request(url, { method, headers: h, timeout: timeoutMs, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let data = null;
        try {
          data = text ? JSON.parse(text) : null;
        } catch {
          data = text;
        }
        resolve({ status: res.statusCode, headers: res.headers, data, text });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${url.pathname}: no answer in ${timeoutMs / 1000} s`)));
    req.on("error", reject);
    req.end(body);
  });
}

const flatten = (headers) =>
  Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, String(v)]]));

export const errorType = (r) => r.data?.detail?.[0]?.type;

/** The key of an opaque token `<prefix>-<key>.<secret>` (the prefix has no `-`). */
export const keyOf = (token) => token.slice(token.indexOf("-") + 1, token.indexOf("."));

export function httpSuite({ baseUrl, bootstrapToken, jwt = true }) {
  const call = client(baseUrl);

  /** A user token for `user` with `scopes`, made by the bootstrap administrator. */
  async function userToken(user, scopes, extra = {}) {
    const r = await call("POST", "/auth/api/v1/tokens", {
      token: bootstrapToken,
      json: { username: user, token_type: "user", token_name: `t-${randomBytes(3).toString("hex")}`, scopes, ...extra },
    });
    assert.equal(r.status, 201, r.text);
    return r.data.token;
  }

  describe("HTTP API", () => {
    test("health", async () => {
      const r = await call("GET", "/health");
      assert.equal(r.status, 200);
      assert.deepEqual(r.data, { status: "ok" });
    });

    test("the OpenAPI document, without credentials", async () => {
      const r = await call("GET", "/auth/openapi.json");
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("content-type"), "application/json");
      assert.match(r.data.openapi, /^3\./);
      assert.ok(r.data.paths["/auth/api/v1/users/{username}/tokens/{key}"].patch);
    });

    test("the bootstrap token is refused on a browser's request", async () => {
      const r = await call("GET", "/auth/api/v1/token-info", { token: bootstrapToken, headers: { origin: "https://evil.example" } });
      assert.equal(r.status, 403);
      assert.equal(errorType(r), "permission_denied");
    });

    test("the bootstrap token creates a user token; /auth answers 200, 403 and 401", async () => {
      const alice = username("alice");
      const created = await call("POST", "/auth/api/v1/tokens", {
        token: bootstrapToken,
        json: { username: alice, token_type: "user", token_name: "laptop", scopes: ["read:all"], email: `${alice}@example.com` },
      });
      assert.equal(created.status, 201, created.text);
      const token = created.data.token;
      assert.match(token, /^[a-z0-9]+-[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
      const key = keyOf(token);
      assert.equal(created.headers.get("location"), `/auth/api/v1/users/${alice}/tokens/${key}`);

      const ok = await call("GET", "/auth?scope=read:all", { token });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get("x-auth-request-user"), alice);
      assert.equal(ok.headers.get("x-auth-request-email"), `${alice}@example.com`);

      const forbidden = await call("GET", "/auth?scope=exec:notebook", { token });
      assert.equal(forbidden.status, 403);
      assert.equal(
        forbidden.headers.get("www-authenticate"),
        'Bearer realm="portcullis", error="insufficient_scope", scope="exec:notebook"',
      );
      assert.equal(errorType(forbidden), "permission_denied");

      const anonymous = await call("GET", "/auth?scope=read:all");
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.headers.get("www-authenticate"), 'Bearer realm="portcullis"');

      const garbage = await call("GET", "/auth?scope=read:all", { token: "pc-not.a-token" });
      assert.equal(garbage.status, 401);
      assert.equal(errorType(garbage), "invalid_token");
      assert.ok(!garbage.text.includes("not.a-token"), "the error echoes the token");
    });

    test("token-info, user-info, list and delete", async () => {
      const bob = username("bob");
      const token = await userToken(bob, ["read:all", "user:token"]);
      const key = keyOf(token);

      const info = await call("GET", "/auth/api/v1/token-info", { token });
      assert.equal(info.status, 200);
      assert.equal(info.data.token, key);
      assert.equal(info.data.token_type, "user");
      assert.equal(info.data.username, bob);
      assert.equal(typeof info.data.created, "number");

      const user = await call("GET", "/auth/api/v1/user-info", { token });
      assert.equal(user.status, 200);
      assert.equal(user.data.username, bob);

      const made = await call("POST", `/auth/api/v1/users/${bob}/tokens`, { token, json: { token_name: "ci", scopes: ["read:all"] } });
      assert.equal(made.status, 201, made.text);
      const dup = await call("POST", `/auth/api/v1/users/${bob}/tokens`, { token, json: { token_name: "ci" } });
      assert.equal(dup.status, 422);
      assert.equal(errorType(dup), "duplicate_token_name");

      const list = await call("GET", `/auth/api/v1/users/${bob}/tokens`, { token });
      assert.equal(list.status, 200);
      assert.deepEqual(list.data.map((t) => t.token_name).sort(), ["ci", info.data.token_name].sort());

      const other = await call("GET", `/auth/api/v1/users/${username("carol")}/tokens`, { token });
      assert.equal(other.status, 403);
      const missing = await call("GET", `/auth/api/v1/users/${bob}/tokens/AAAAAAAAAAAAAAAAAAAAAA`, { token });
      assert.equal(missing.status, 404);

      const ciKey = keyOf(made.data.token);
      const deleted = await call("DELETE", `/auth/api/v1/users/${bob}/tokens/${ciKey}`, { token });
      assert.equal(deleted.status, 204);
      assert.equal(deleted.text, "");
      const gone = await call("GET", "/auth?scope=read:all", { token: made.data.token });
      assert.equal(gone.status, 401);
      assert.equal(gone.headers.get("www-authenticate"), 'Bearer realm="portcullis", error="invalid_token"');

      const history = await call("GET", `/auth/api/v1/users/${bob}/token-change-history?limit=1`, { token });
      assert.equal(history.status, 200);
      assert.equal(history.data.length, 1);
      assert.ok(Number(history.headers.get("x-total-count")) >= 3);
      assert.match(history.headers.get("link") ?? "", /rel="next"/);
    });

    test("PATCH by an administrator", async () => {
      const dave = username("dave");
      const token = await userToken(dave, ["read:all"]);
      const key = keyOf(token);
      const patched = await call("PATCH", `/auth/api/v1/users/${dave}/tokens/${key}`, {
        token: bootstrapToken,
        json: { token_name: "renamed", expires: null },
      });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.data.token_name, "renamed");
      assert.equal(patched.data.expires, undefined);
      // One token, as its owner sees it.
      const one = await call("GET", `/auth/api/v1/users/${dave}/tokens/${key}`, { token });
      assert.equal(one.status, 200, one.text);
      assert.deepEqual([one.data.token, one.data.token_name, one.data.token_type], [key, "renamed", "user"]);
      // The admin history of every user, filtered to this one: create, then edit with the old name.
      const forbidden = await call("GET", "/auth/api/v1/history/token-changes", { token });
      assert.equal(forbidden.status, 403);
      const history = await call("GET", `/auth/api/v1/history/token-changes?username=${dave}`, { token: bootstrapToken });
      assert.equal(history.status, 200, history.text);
      assert.deepEqual(history.data.map((e) => e.action), ["edit", "create"]);
      assert.match(history.data[0].old_token_name, /^t-/);
      assert.equal(history.headers.get("x-total-count"), "2");
    });

    test("delegation through /auth", async () => {
      const erin = username("erin");
      const token = await userToken(erin, ["read:all", "exec:notebook"]);
      const first = await call("GET", "/auth?scope=exec:notebook&notebook=true", { token });
      assert.equal(first.status, 200, first.text);
      const child = first.headers.get("x-auth-request-token");
      assert.match(child ?? "", /^pc-/);
      const again = await call("GET", "/auth?scope=exec:notebook&notebook=true", { token });
      assert.equal(again.headers.get("x-auth-request-token"), child);
      const broad = await call("GET", "/auth?scope=read:all&delegate_to=tap&delegate_scope=write:files", { token });
      assert.equal(broad.status, 422);
      assert.equal(errorType(broad), "invalid_scopes");
    });

    test("error statuses", async () => {
      const frank = username("frank");
      const token = await userToken(frank, ["user:token"]);
      const uri = `/auth/api/v1/users/${frank}/tokens`;
      const cases = [
        [await call("GET", "/nope"), 404],
        [await call("PUT", uri, { token }), 405],
        [await call("GET", uri), 401],
        [await call("GET", uri, { token: "garbage" }), 401],
        [await call("POST", uri, { token, json: { token_name: 5 } }), 422],
        [await call("POST", uri, { token, json: { token_name: "a", extra: 1 } }), 422],
        [await call("GET", "/auth", { token }), 422],
        [await call("POST", uri, { token, body: "{not json", headers: { "content-type": "application/json" } }), 400],
        [await call("POST", uri, { token, body: " ".repeat(70_000) }), 413],
        [await call("POST", "/auth/api/v1/admin/expire", { token }), 403],
      ];
      for (const [i, [r, status]] of cases.entries()) {
        assert.equal(r.status, status, `case ${i}: ${r.text}`);
        assert.equal(typeof r.data?.detail?.[0]?.msg, "string", `case ${i}: ${r.text}`);
        assert.ok(!r.text.includes(token.slice(3)), `case ${i} echoes the token`);
      }
      assert.equal(cases[1][0].headers.get("allow"), "GET, POST");
    });

    test("admin: metrics, audit, expire", async () => {
      const metrics = await call("GET", "/auth/api/v1/admin/metrics", { token: bootstrapToken });
      assert.equal(metrics.status, 200);
      assert.equal(typeof metrics.data.user_tokens, "number");
      const audit = await call("GET", "/auth/api/v1/admin/audit?fix=false", { token: bootstrapToken });
      assert.equal(audit.status, 200);
      assert.ok(Array.isArray(audit.data.issues));
      const expire = await call("POST", "/auth/api/v1/admin/expire", { token: bootstrapToken });
      assert.equal(expire.status, 200);
      assert.ok(Array.isArray(expire.data.deleted));
    });

    test("JWT sessions: create, use, refresh, API tokens, logout", { skip: !jwt && "no JWT key configured" }, async () => {
      const grace = username("grace");
      const plain = await userToken(grace, ["user:token"]);
      const refused = await call("POST", "/auth/api/v1/sessions", { token: plain, json: { username: grace } });
      assert.equal(refused.status, 403);

      const made = await call("POST", "/auth/api/v1/sessions", {
        token: bootstrapToken,
        json: { username: grace, scopes: ["read:all", "user:token"] },
      });
      assert.equal(made.status, 200, made.text);
      assert.equal(made.data.token_type, "Bearer");
      assert.equal(typeof made.data.expires_in, "number");
      const { access_token: access, refresh_token: refresh } = made.data;

      const ok = await call("GET", "/auth?scope=read:all", { token: access });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get("x-auth-request-user"), grace);
      const info = await call("GET", "/auth/api/v1/token-info", { token: access });
      assert.equal(info.data.token_type, "access");
      const viaJwt = await call("POST", `/auth/api/v1/users/${grace}/tokens`, { token: access, json: { token_name: "from-jwt" } });
      assert.equal(viaJwt.status, 201, viaJwt.text);
      assert.equal((await call("GET", "/auth?scope=read:all", { token: refresh })).status, 401);

      const wrong = await call("POST", "/auth/api/v1/sessions/refresh", { json: { refresh_token: access } });
      assert.equal(wrong.status, 422);
      assert.equal(errorType(wrong), "wrong_token_type");
      const rotated = await call("POST", "/auth/api/v1/sessions/refresh", { json: { refresh_token: refresh } });
      assert.equal(rotated.status, 200, rotated.text);
      // Within the grace window the same refresh token gets the same pair.
      const replay = await call("POST", "/auth/api/v1/sessions/refresh", { json: { refresh_token: refresh } });
      assert.equal(replay.status, 200, replay.text);
      assert.equal(replay.data.access_token, rotated.data.access_token);
      assert.equal((await call("GET", "/auth?scope=read:all", { token: access })).status, 401);
      const fresh = rotated.data.access_token;
      assert.equal((await call("GET", "/auth?scope=read:all", { token: fresh })).status, 200);

      const apiToken = await call("POST", "/auth/api/v1/api-tokens", { token: fresh, json: { datasets: { "plants/*": ["read"] } } });
      assert.equal(apiToken.status, 201, apiToken.text);
      const apiInfo = await call("GET", "/auth/api/v1/token-info", { token: apiToken.data.token });
      assert.equal(apiInfo.data.token_type, "api");
      const revoked = await call("DELETE", `/auth/api/v1/api-tokens/${apiInfo.data.token}`, { token: fresh });
      assert.equal(revoked.status, 204);
      assert.equal((await call("GET", "/auth/api/v1/token-info", { token: apiToken.data.token })).status, 401);

      assert.equal((await call("DELETE", "/auth/api/v1/sessions/current", { token: fresh })).status, 204);
      assert.equal((await call("GET", "/auth/api/v1/user-info", { token: fresh })).status, 401);
      const jwks = await call("GET", "/.well-known/jwks.json");
      assert.equal(jwks.status, 200);
      assert.ok(Array.isArray(jwks.data.keys));
    });
  });

  return { call, userToken };
}
