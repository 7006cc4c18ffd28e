// After a restart: settle every write that was in flight at the kill the way a careful client
// would (retry the refresh inside its grace window, repeat the revocation, clean up tokens
// created without an answer), then check every acknowledged fact, then the audit.
import { ALL_SCOPES, SESSIONS_PER_USER, SURELY_IN_GRACE_MS, SURELY_PAST_GRACE_MS, emptyPending } from "./model.mjs";
import { checkError, checkList, checkPair, checkSessionValidate, checkValidate, Lost } from "./ops.mjs";
import { createdFamily, rotated } from "./session_ops.mjs";

const V1 = "/auth/api/v1";

/** Runs `fn` over `items`, `n` at a time. */
export async function pool(items, n, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

/** Settles what was in flight; returns what it did. */
export async function settle(ctx, m) {
  const s = { refreshRetries: 0, sessionProbes: 0, flushedUsers: 0, revokesRepeated: 0, unknownTokensRevoked: 0 };
  for (const f of m.families.filter((f) => f.lost)) {
    const lost = f.lost;
    delete f.lost;
    f.events.push(`lost-${Object.keys(lost)[0]}`);
    if (lost.refresh) {
      s.refreshRetries += 1;
      const res = await ctx.req("recover", "POST", `${V1}/sessions/refresh`, { body: { refresh_token: lost.refresh } });
      const inGrace = Date.now() - lost.sentMs < SURELY_IN_GRACE_MS;
      if (res.status === 200 || inGrace) {
        const next = checkPair(m, "recover_refresh", res, f);
        if (!next) continue;
        f.state = "live";
        rotated(f, next, lost.sentMs);
        // The pair a retry returns is the session's: its access token passes /auth.
        const scope = f.scopes[0] ?? "user:token";
        checkSessionValidate(m, "recover_refresh", f, f.access, scope, await ctx.req("recover", "GET", `/auth?scope=${encodeURIComponent(scope)}`, { token: f.access }));
      } else {
        checkError(m, "recover_refresh", res, 401);
        m.endFamily(f, "retry-refused");
      }
    } else if (lost.probe) {
      // Strictly checked (SQL): whether the session survived a logout or reuse in flight.
      s.sessionProbes += 1;
      const res = await ctx.req("recover", "GET", `${V1}/users/${f.user}/tokens`, { token: f.access });
      if (res.status === 200) f.state = "live";
      else {
        checkError(m, "recover_probe", res, 401);
        f.state = "retired"; // ended in SQL; its KV marker may outlive it: no more checks
      }
    }
  }
  for (const u of m.users.filter((u) => u.needsFlush)) {
    // A login in flight may have made a session the model does not know: ten new ones
    // evict every older session of the user, known or not.
    // The ten must be strictly newer than every session made before the kill: sessions of
    // one second are ordered by random id.
    s.flushedUsers += 1;
    const second = Math.floor(ctx.killedAt / 1000);
    while (Math.floor(Date.now() / 1000) <= second) await new Promise((ok) => setTimeout(ok, 50));
    const before = m.liveFamilies(u.name);
    for (const f of before) f.state = "flushing";
    for (let i = 0; i < SESSIONS_PER_USER; i++) {
      const res = await ctx.req("recover", "POST", `${V1}/sessions`, { token: ctx.bootstrap, body: { username: u.name, scopes: [] } });
      createdFamily(m, "recover_flush", res, u.name, []);
    }
    for (const f of before) m.endFamily(f, "flushed");
    u.needsFlush = false;
  }
  for (const u of m.users) {
    for (const id of u.pending.revokes) {
      s.revokesRepeated += 1;
      const t = m.tokens[id];
      const res = await ctx.req("recover", "DELETE", `${V1}/users/${u.name}/tokens/${t.key}`, { token: ctx.bootstrap });
      if (res.status !== 204) checkError(m, "recover_revoke", res, 404, "not_found");
      m.revoke(t);
    }
    const allowed = u.pending.names.size + u.pending.delegates;
    if (u.tainted || allowed > 0) {
      const res = await ctx.req("recover", "GET", `${V1}/users/${u.name}/tokens`, { token: ctx.bootstrap });
      const unknown = (Array.isArray(res.json) ? res.json : []).filter((e) => !m.byKey.has(e.token));
      const explained = unknown.filter((e) => (e.token_type === "user" && u.pending.names.has(e.token_name)) || (e.token_type === "internal" && u.pending.delegates > 0 && m.byKey.has(e.parent)));
      if (explained.length !== unknown.length || unknown.length > allowed) m.fail("recover_list", `${unknown.length} unknown tokens of ${u.name}, ${explained.length} from requests in flight (at most ${allowed})`);
      for (const e of explained) {
        s.unknownTokensRevoked += 1;
        const del = await ctx.req("recover", "DELETE", `${V1}/users/${u.name}/tokens/${e.token}`, { token: ctx.bootstrap });
        if (del.status !== 204) checkError(m, "recover_revoke_unknown", del, 404, "not_found");
      }
      checkList(m, "recover_list", u.name, await ctx.req("recover", "GET", `${V1}/users/${u.name}/tokens`, { token: ctx.bootstrap }));
    }
    u.pending = emptyPending();
    u.tainted = m.tokens.some((t) => t.user === u.name && t.state === "uncertain");
  }
  return s;
}

/**
 * Checks every acknowledged fact: created tokens valid with their scopes, revoked ones (and
 * their children) refused, sessions' current pairs valid and old ones refused, listings exact.
 * Returns how many acknowledged writes were checked.
 */
export async function sweep(ctx, m, rng, concurrency) {
  const checks = { tokensValid: 0, tokensRevoked: 0, sessionsLive: 0, sessionsEnded: 0, oldAccessRefused: 0, reuseRefused: 0 };
  await pool(m.tokens.filter((t) => t.state === "live" || t.state === "revoked"), concurrency, async (t) => {
    const scope = t.state === "live" && t.scopes.length ? t.scopes[rng.int(t.scopes.length)] : "user:token";
    checkValidate(m, "sweep_token", t, scope, await ctx.req("sweep", "GET", `/auth?scope=${encodeURIComponent(scope)}`, { token: t.token }));
    checks[t.state === "live" ? "tokensValid" : "tokensRevoked"] += 1;
  });
  await pool(m.families.filter((f) => f.state === "live" || f.state === "ended"), concurrency, async (f) => {
    const scope = rng.pick(ALL_SCOPES);
    const validate = async (access) => checkSessionValidate(m, "sweep_session", f, access, scope, await ctx.req("sweep", "GET", `/auth?scope=${encodeURIComponent(scope)}`, { token: access }));
    await validate(f.access);
    checks[f.state === "live" ? "sessionsLive" : "sessionsEnded"] += 1;
    if (f.old.length) {
      await validate(f.old.at(-1).access);
      checks.oldAccessRefused += 1;
    }
    const stale = f.old.find((o) => Date.now() - o.ackMs > SURELY_PAST_GRACE_MS);
    if (f.state === "live" && stale && rng.next() < 0.25) {
      // A refresh token used before and presented again: the whole family is revoked.
      const res = await ctx.req("sweep", "POST", `${V1}/sessions/refresh`, { body: { refresh_token: stale.refresh } });
      checkError(m, "sweep_reuse", res, 401, "refresh_token_reused");
      m.endFamily(f, "sweep-reused");
      await validate(f.access);
      checks.reuseRefused += 1;
    }
  });
  for (const u of m.users.filter((u) => !u.tainted)) {
    checkList(m, "sweep_list", u.name, await ctx.req("sweep", "GET", `${V1}/users/${u.name}/tokens`, { token: ctx.bootstrap }));
  }
  return checks;
}

/**
 * The audit over HTTP. Findings are allowed only where a kill interrupted a create (a KV record
 * whose SQL row was never written: `missing_from_sql`, at most one per create in flight); they
 * are then repaired and the audit must come back clean.
 */
export async function audit(ctx, m, allowance) {
  const get = async (fix) => {
    const res = await ctx.req("audit", "GET", `${V1}/admin/audit${fix ? "?fix=true" : ""}`, { token: ctx.bootstrap });
    if (res.status !== 200 || !Array.isArray(res.json?.issues)) {
      m.fail("audit", `audit status ${res.status}`);
      return [];
    }
    return res.json.issues;
  };
  const found = await get(false);
  const kinds = {};
  for (const i of found) kinds[i.kind] = (kinds[i.kind] ?? 0) + 1;
  const explained = found.filter((i) => i.kind === "missing_from_sql" && !m.byKey.has(i.token)).length;
  if (explained !== found.length || explained > allowance) m.fail("audit", `findings ${JSON.stringify(kinds)}, at most ${allowance} missing_from_sql allowed`);
  if (found.length) {
    await get(true);
    const after = await get(false);
    if (after.length) m.fail("audit", `${after.length} findings left after the fix`);
  }
  return { found: found.length, kinds };
}

export { Lost };
