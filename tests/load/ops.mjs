// The operations of the load mix. Each `make` picks its objects with the seeded generator and
// returns the locks it needs, `run` (requests and checks against the model) and `lost` (what
// becomes uncertain when no answer came: a request in flight at a kill, or a 5xx).
import { ALL_SCOPES, KNOWN_SCOPES, TOKEN_RE, ACCESS_LIFETIME, SURELY_IN_GRACE_MS, SURELY_PAST_GRACE_MS, jwtClaims, sameSet, sorted } from "./model.mjs";

const V1 = "/auth/api/v1";
const MAX_LIVE_PER_USER = 40;

/** Thrown by `ctx.req` when a request got no answer (or a 5xx): its outcome is unknown. */
export class Lost extends Error {}

const q = (params) => new URLSearchParams(params).toString();
const nowS = () => Math.floor(Date.now() / 1000);

/** Checks an error answer: status, the detail type, and the challenge on 401/403. */
export function checkError(m, kind, res, status, type) {
  if (res.status !== status) return m.fail(kind, `status ${res.status}, expected ${status} (${res.json?.detail?.[0]?.type ?? "no detail"})`);
  const got = res.json?.detail?.[0]?.type;
  if (type && got !== type) m.fail(kind, `error type ${got}, expected ${type}`);
  const challenge = res.headers["www-authenticate"] ?? "";
  if (status === 401 && !challenge.startsWith("Bearer")) m.fail(kind, "401 without WWW-Authenticate: Bearer");
  if (status === 403 && type === "permission_denied" && kind.includes("validate") && !challenge.includes('error="insufficient_scope"')) {
    m.fail(kind, "403 without insufficient_scope challenge");
  }
}

function check(m, kind, ok, message) {
  if (!ok) m.fail(kind, message);
  return ok;
}

const live = (m, filter = () => true) => m.tokens.filter((t) => t.state === "live" && filter(t));
const liveOf = (m, user) => live(m, (t) => t.user === user);
const creators = (m, user) => liveOf(m, user).filter((t) => t.type === "user" && t.scopes.includes("user:token"));

/** Expected answer of `GET /auth?scope=` for an opaque token, and its check. */
export function checkValidate(m, kind, token, scope, res) {
  if (token.state === "revoked") return checkError(m, kind, res, 401, "invalid_token");
  if (!token.scopes.includes(scope)) return checkError(m, kind, res, 403, "permission_denied");
  if (check(m, kind, res.status === 200, `status ${res.status} for a live token with the scope`)) {
    check(m, kind, res.headers["x-auth-request-user"] === token.user, "wrong X-Auth-Request-User");
  }
}

function checkInfo(m, kind, token, res) {
  if (token.state === "revoked") return checkError(m, kind, res, 401, "invalid_token");
  if (!check(m, kind, res.status === 200, `token-info status ${res.status}`)) return;
  const j = res.json ?? {};
  check(m, kind, j.token === token.key && j.username === token.user, "token-info names another token or user");
  check(m, kind, j.token_type === token.type, `token_type ${j.token_type}, expected ${token.type}`);
  check(m, kind, sameSet(j.scopes, token.scopes) && JSON.stringify(j.scopes) === JSON.stringify(sorted(j.scopes)), "scopes differ or are not sorted");
  if (token.type === "user") check(m, kind, j.token_name === token.name && j.expires === token.expires, "token_name or expires differ");
  else check(m, kind, j.service === token.service && j.parent === m.tokens[token.parent].key, "service or parent differ");
}

/** `GET /auth` with a JWT access token of `family`: current and live, old, or ended. */
export function checkSessionValidate(m, kind, family, access, scope, res) {
  kind = `${kind} (session ${family.id}: ${family.state}, ${access === family.access ? "current" : "old"} access; ${family.events.join(" ")})`;
  if (family.state !== "live" || access !== family.access) return checkError(m, kind, res, 401);
  if (!family.scopes.includes(scope)) return checkError(m, kind, res, 403, "permission_denied");
  if (check(m, kind, res.status === 200, `status ${res.status} for the current access token`)) {
    check(m, kind, res.headers["x-auth-request-user"] === family.user, "wrong X-Auth-Request-User");
  }
}

/** A new pair for `family` (or a new family of `user` with `scopes`): shape and claims. */
export function checkPair(m, kind, res, { user, scopes, sid }) {
  if (!check(m, kind, res.status === 200, `status ${res.status} (${res.json?.detail?.[0]?.type ?? "-"}), expected a new pair`)) return null;
  const j = res.json ?? {};
  const a = jwtClaims(j.access_token);
  const r = jwtClaims(j.refresh_token);
  const ok =
    check(m, kind, a && r && a.type === "access" && r.type === "refresh" && a.exp === a.iat + ACCESS_LIFETIME, "token types or lifetime wrong") &&
    // expires_in is counted from the server's now, somewhere between sending and the answer.
    check(m, kind, j.token_type === "Bearer" && j.expires_in >= a.exp - Math.ceil(res.ackMs / 1000) && j.expires_in <= a.exp - Math.floor(res.sentMs / 1000), "token_type or expires_in wrong") &&
    check(m, kind, a.sub === user && r.sub === user && a.sid === r.sid && (!sid || a.sid === sid), "sub or sid wrong") &&
    check(m, kind, a.scope === sorted(scopes).join(" ") && r.scope === a.scope, "scope claim wrong");
  return ok ? { access: j.access_token, refresh: j.refresh_token, sid: a.sid, iat: a.iat, jti: a.jti } : null;
}

/** Every operation: weight in the mix and its maker. */
export const OPS = {
  validate: [22, (m, r) => {
    const pool = r.next() < 0.85 ? live(m) : m.tokens.filter((t) => t.state === "revoked");
    const t = r.pick(pool);
    if (!t) return null;
    const scope = r.pick(ALL_SCOPES);
    return {
      reads: [`tok:${t.id}`],
      writes: [],
      run: async (ctx) => checkValidate(m, "validate", t, scope, await ctx.req("validate", "GET", `/auth?${q({ scope })}`, { token: t.token })),
      lost: () => {},
    };
  }],

  token_info: [7, (m, r) => {
    const t = r.pick(r.next() < 0.85 ? live(m) : m.tokens.filter((t) => t.state === "revoked"));
    if (!t) return null;
    return { reads: [`tok:${t.id}`], writes: [], run: async (ctx) => checkInfo(m, "token_info", t, await ctx.req("token_info", "GET", `${V1}/token-info`, { token: t.token })), lost: () => {} };
  }],

  create_admin: [7, (m, r) => {
    const user = r.pick(m.users);
    if (liveOf(m, user.name).length >= MAX_LIVE_PER_USER) return null;
    const name = `t${++m.names}`;
    const scopes = r.subset(ALL_SCOPES, 0.6);
    return {
      reads: [`list:${user.name}`],
      writes: [],
      run: async (ctx) => {
        const res = await ctx.req("create_admin", "POST", `${V1}/tokens`, { token: ctx.bootstrap, body: { username: user.name, token_type: "user", token_name: name, scopes } });
        acceptCreated(m, "create_admin", res, { user: user.name, type: "user", name, scopes, expires: undefined });
      },
      lost: () => user.pending.names.add(name),
    };
  }],

  create_user: [5, (m, r) => {
    const user = r.pick(m.users);
    const creator = r.pick(creators(m, user.name));
    if (!creator || liveOf(m, user.name).length >= MAX_LIVE_PER_USER) return null;
    const broader = KNOWN_SCOPES.filter((s) => !creator.scopes.includes(s));
    const tooBroad = broader.length > 0 && r.next() < 0.15;
    const scopes = tooBroad ? [...creator.scopes, r.pick(broader)] : r.subset(creator.scopes, 0.6);
    const expires = r.next() < 0.3 ? nowS() + 86_400 : null;
    const name = `t${++m.names}`;
    return {
      reads: [`tok:${creator.id}`, `list:${user.name}`],
      writes: [],
      run: async (ctx) => {
        const res = await ctx.req("create_user", "POST", `${V1}/users/${user.name}/tokens`, { token: creator.token, body: { token_name: name, scopes, expires } });
        if (tooBroad) return checkError(m, "create_user", res, 422, "invalid_scopes");
        acceptCreated(m, "create_user", res, { user: user.name, type: "user", name, scopes, expires: expires ?? undefined });
      },
      lost: () => user.pending.names.add(name),
    };
  }],

  duplicate_name: [1, (m, r) => {
    const t = r.pick(live(m, (t) => t.type === "user"));
    if (!t) return null;
    return {
      reads: [`tok:${t.id}`],
      writes: [],
      run: async (ctx) => {
        const res = await ctx.req("duplicate_name", "POST", `${V1}/users/${t.user}/tokens`, { token: ctx.bootstrap, body: { token_name: t.name, scopes: [] } });
        checkError(m, "duplicate_name", res, 422, "duplicate_token_name");
      },
      lost: () => {},
    };
  }],

  delegate: [8, (m, r) => {
    const parent = r.pick(live(m, (t) => m.depth(t) < 2 && t.scopes.some((s) => KNOWN_SCOPES.includes(s))));
    if (!parent || liveOf(m, parent.user).length >= MAX_LIVE_PER_USER) return null;
    const service = `svc-${r.int(3)}`;
    const scopes = sorted(r.subset(parent.scopes.filter((s) => KNOWN_SCOPES.includes(s)), 0.6));
    const scope = r.pick(parent.scopes);
    const slot = `${parent.id}|${service}|${scopes.join(",")}`;
    const user = m.user(parent.user);
    return {
      reads: [`tok:${parent.id}`, `slot:${slot}`, `list:${parent.user}`],
      writes: [],
      run: async (ctx) => {
        const path = `/auth?${q({ scope, delegate_to: service, delegate_scope: scopes.join(",") })}`;
        const res = await ctx.req("delegate", "GET", path, { token: parent.token });
        if (!check(m, "delegate", res.status === 200, `status ${res.status} (${res.json?.detail?.[0]?.type ?? "-"})`)) return;
        const child = res.headers["x-auth-request-token"];
        const match = TOKEN_RE.exec(child ?? "");
        if (!check(m, "delegate", match && res.headers["x-auth-request-user"] === parent.user, "no well-formed child token or wrong user")) return;
        const known = m.slots.get(slot);
        if (known !== undefined) return check(m, "delegate", m.tokens[known].token === child, "a fresh child was not reused");
        if (!check(m, "delegate", !m.byKey.has(match[1]), "handed out a known (revoked?) token as a new child")) return;
        const t = m.addToken({ user: parent.user, key: match[1], token: child, type: "internal", scopes, service, parent: parent.id, slot });
        m.slots.set(slot, t.id);
      },
      lost: () => (user.pending.delegates += 1),
    };
  }],

  revoke: [6, (m, r) => {
    const target = r.pick(live(m));
    if (!target) return null;
    const tree = m.tree(target);
    const byUser = r.next() < 0.4 ? r.pick(creators(m, target.user).filter((c) => !tree.includes(c) || c === target)) : undefined;
    const writes = tree.flatMap((t) => [`tok:${t.id}`, ...(t.slot ? [`slot:${t.slot}`] : [])]);
    const reads = [`list:${target.user}`, ...(byUser && byUser !== target ? [`tok:${byUser.id}`] : [])];
    return {
      reads,
      writes,
      run: async (ctx) => {
        const res = await ctx.req("revoke", "DELETE", `${V1}/users/${target.user}/tokens/${target.key}`, { token: byUser?.token ?? ctx.bootstrap });
        if (check(m, "revoke", res.status === 204, `status ${res.status} (${res.json?.detail?.[0]?.type ?? "-"})`)) return m.revoke(target);
        m.user(target.user).pending.revokes.push(target.id);
        markUncertain(m, target);
      },
      lost: () => {
        m.user(target.user).pending.revokes.push(target.id);
        markUncertain(m, target);
      },
    };
  }],

  list: [3, (m, r) => {
    const user = r.pick(m.users.filter((u) => !u.tainted));
    if (!user) return null;
    return {
      reads: [],
      writes: [`list:${user.name}`],
      run: async (ctx) => checkList(m, "list", user.name, await ctx.req("list", "GET", `${V1}/users/${user.name}/tokens`, { token: ctx.bootstrap })),
      lost: () => {},
      still: () => !user.tainted,
    };
  }],

  refused: [2, (m, r) => {
    // Someone else's token, or a key that names no token: 403 and 404, never a change.
    const user = r.pick(m.users);
    const other = r.pick(creators(m, r.pick(m.users).name).filter((t) => t.user !== user.name));
    const key = Buffer.from(Array.from({ length: 16 }, () => r.int(256))).toString("base64url");
    return {
      reads: other ? [`tok:${other.id}`] : [],
      writes: [],
      run: async (ctx) => {
        const res = await ctx.req("refused", "DELETE", `${V1}/users/${user.name}/tokens/${key}`, { token: other?.token ?? ctx.bootstrap });
        if (other) checkError(m, "refused", res, 403, "permission_denied");
        else checkError(m, "refused", res, 404, "not_found");
      },
      lost: () => {},
    };
  }],
};

function acceptCreated(m, kind, res, fields) {
  if (!check(m, kind, res.status === 201, `status ${res.status} (${res.json?.detail?.[0]?.type ?? "-"})`)) return;
  const match = TOKEN_RE.exec(res.json?.token ?? "");
  if (!check(m, kind, match, "no well-formed token")) return;
  check(m, kind, res.headers.location === `${V1}/users/${fields.user}/tokens/${match[1]}`, "Location names another token");
  if (!check(m, kind, !m.byKey.has(match[1]), "a token key was handed out twice")) return;
  m.addToken({ ...fields, key: match[1], token: res.json.token, scopes: sorted(fields.scopes) });
}

/** A write whose outcome is unknown: its tokens leave the mix until a recovery settles them. */
function markUncertain(m, target) {
  for (const t of m.tree(target)) if (t.state === "live") t.state = "uncertain";
  m.user(target.user).tainted = true;
}

/** `GET users/{u}/tokens` lists exactly the user's live tokens, with their fields. */
export function checkList(m, kind, user, res) {
  if (!check(m, kind, res.status === 200 && Array.isArray(res.json), `list status ${res.status}`)) return;
  const listed = new Map(res.json.map((e) => [e.token, e]));
  const expected = liveOf(m, user);
  for (const t of expected) {
    const e = listed.get(t.key);
    if (!check(m, kind, e, `live token ${t.id} of ${user} not listed`)) continue;
    check(m, kind, e.username === user && e.token_type === t.type && sameSet(e.scopes, t.scopes), `listed fields of token ${t.id} differ`);
  }
  for (const key of listed.keys()) {
    const t = m.byKey.get(key);
    check(m, kind, t?.state === "live" && t.user === user, t ? `token ${t.id} (${t.state}) listed` : `unknown token listed for ${user}`);
  }
}
