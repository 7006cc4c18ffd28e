// The JWT session operations of the load mix: login by a trusted caller (with the per-user
// limit evicting the oldest session), refresh rotation, a retry inside the grace window (the
// same pair), reuse after it (the family revoked), two refreshes at once (one successor),
// validation of current, old and ended access tokens, token-info and logout.
import { KNOWN_SCOPES, ALL_SCOPES, SURELY_IN_GRACE_MS, SURELY_PAST_GRACE_MS, sorted } from "./model.mjs";
import { checkError, checkPair, checkSessionValidate } from "./ops.mjs";

const V1 = "/auth/api/v1";

const familyLocks = (f, write) => ({ reads: [`sess:${f.user}`, ...(write ? [] : [`fam:${f.id}`])], writes: write ? [`fam:${f.id}`] : [] });
const usable = (m) => m.families.filter((f) => f.state === "live");

/** Applies an acknowledged rotation of `family` to `next`. */
export function rotated(family, next, sentMs) {
  family.old.push({ access: family.access, refresh: family.refresh, sentMs, ackMs: Date.now(), successor: next.refresh });
  if (family.old.length > 4) family.old.shift();
  family.access = next.access;
  family.refresh = next.refresh;
  family.jti = next.jti;
  family.lastAccess = next.iat;
  family.events.push("rotated");
}

export const SESSION_OPS = {
  session_create: [5, (m, r) => {
    const user = r.pick(m.users.filter((u) => !u.needsFlush));
    if (!user) return null;
    const scopes = sorted(r.subset(KNOWN_SCOPES, 0.6));
    return {
      reads: [],
      writes: [`sess:${user.name}`],
      run: async (ctx) => {
        const res = await ctx.req("session_create", "POST", `${V1}/sessions`, { token: ctx.bootstrap, body: { username: user.name, scopes } });
        createdFamily(m, "session_create", res, user.name, scopes);
      },
      lost: () => (user.needsFlush = true),
      still: () => !user.needsFlush,
    };
  }],

  session_refresh: [6, (m, r) => {
    const f = r.pick(usable(m));
    if (!f) return null;
    return {
      ...familyLocks(f, true),
      run: async (ctx) => {
        const sentMs = (f.sentMs = Date.now());
        const res = await ctx.req("session_refresh", "POST", `${V1}/sessions/refresh`, { body: { refresh_token: f.refresh } });
        const next = checkPair(m, "session_refresh", res, f);
        if (next) {
          if (next.jti === f.jti) m.fail("session_refresh", "the rotation kept the access token");
          rotated(f, next, sentMs);
        } else f.state = "uncertain";
      },
      lost: () => lostRefresh(f),
    };
  }],

  session_double: [1, (m, r) => {
    const f = r.pick(usable(m));
    if (!f) return null;
    return {
      ...familyLocks(f, true),
      run: async (ctx) => {
        const sentMs = (f.sentMs = Date.now());
        const body = { refresh_token: f.refresh };
        const [a, b] = await Promise.all([1, 2].map(() => ctx.req("session_double", "POST", `${V1}/sessions/refresh`, { body })));
        const pa = checkPair(m, "session_double", a, f);
        const pb = checkPair(m, "session_double", b, f);
        if (!pa || !pb) return void (f.state = "uncertain");
        if (pa.access !== pb.access || pa.refresh !== pb.refresh) m.fail("session_double", "two refreshes of one token got different pairs");
        rotated(f, pa, sentMs);
      },
      lost: () => lostRefresh(f),
    };
  }],

  session_retry: [2, (m, r) => {
    const fresh = (o) => Date.now() - o.sentMs < SURELY_IN_GRACE_MS - 1000;
    const f = r.pick(usable(m).filter((f) => f.old.some(fresh)));
    if (!f) return null;
    // The latest rotation's token gets the same pair again; an earlier one (its successor
    // already rotated) is a reuse even inside the window.
    const old = r.pick(f.old.filter(fresh));
    return {
      ...familyLocks(f, true),
      run: async (ctx) => {
        const res = await ctx.req("session_retry", "POST", `${V1}/sessions/refresh`, { body: { refresh_token: old.refresh } });
        // Answered so late that the grace window may have closed: either answer, and no other.
        const late = Date.now() - old.sentMs >= SURELY_IN_GRACE_MS;
        if (f.refresh === old.successor && (!late || res.status === 200)) {
          const again = checkPair(m, "session_retry", res, f);
          if (again && (again.access !== f.access || again.refresh !== f.refresh)) m.fail("session_retry", "a retry inside the grace window got another pair");
        } else {
          checkError(m, "session_retry", res, 401, "refresh_token_reused");
          m.endFamily(f, "reused-in-grace");
        }
      },
      lost: () => Object.assign(f, { state: "uncertain", lost: { probe: true } }),
    };
  }],

  session_reuse: [1, (m, r) => {
    const ended = r.next() < 0.3;
    const pool = ended ? m.families.filter((f) => f.state === "ended") : usable(m).filter((f) => f.old.length && Date.now() - f.old[0].ackMs > SURELY_PAST_GRACE_MS);
    const f = r.pick(pool);
    if (!f) return null;
    const token = ended ? r.pick([f.refresh, ...f.old.map((o) => o.refresh)]) : r.pick(f.old.filter((o) => Date.now() - o.ackMs > SURELY_PAST_GRACE_MS)).refresh;
    return {
      ...familyLocks(f, true),
      run: async (ctx) => {
        const res = await ctx.req("session_reuse", "POST", `${V1}/sessions/refresh`, { body: { refresh_token: token } });
        checkError(m, "session_reuse", res, 401, ended ? "refresh_token_not_found" : "refresh_token_reused");
        m.endFamily(f, "reused");
      },
      lost: () => Object.assign(f, { state: "uncertain", lost: { probe: true } }),
    };
  }],

  session_validate: [10, (m, r) => {
    const f = r.pick(r.next() < 0.8 ? usable(m) : m.families.filter((f) => f.state === "ended"));
    if (!f) return null;
    const access = r.next() < 0.8 || !f.old.length ? f.access : r.pick(f.old).access;
    const scope = r.pick(ALL_SCOPES);
    return {
      ...familyLocks(f, false),
      run: async (ctx) => {
        const res = await ctx.req("session_validate", "GET", `/auth?scope=${encodeURIComponent(scope)}`, { token: access });
        checkSessionValidate(m, "session_validate", f, access, scope, res);
      },
      lost: () => {},
    };
  }],

  session_info: [3, (m, r) => {
    const f = r.pick(r.next() < 0.85 ? usable(m) : m.families.filter((f) => f.state === "ended"));
    if (!f) return null;
    return {
      ...familyLocks(f, false),
      run: async (ctx) => {
        const res = await ctx.req("session_info", "GET", `${V1}/token-info`, { token: f.access });
        if (f.state !== "live") return checkError(m, "session_info", res, 401);
        const j = res.json ?? {};
        if (res.status !== 200) return m.fail("session_info", `status ${res.status}`);
        if (j.token !== f.jti || j.token_type !== "access" || j.username !== f.user || JSON.stringify(j.scopes) !== JSON.stringify(f.scopes)) {
          m.fail("session_info", "token-info of an access token differs");
        }
      },
      lost: () => {},
    };
  }],

  session_logout: [1, (m, r) => {
    const f = r.pick(usable(m));
    if (!f) return null;
    return {
      ...familyLocks(f, true),
      run: async (ctx) => {
        const res = await ctx.req("session_logout", "DELETE", `${V1}/sessions/current`, { token: f.access });
        if (res.status === 204) m.endFamily(f, "logout");
        else {
          m.fail("session_logout", `status ${res.status}`);
          f.state = "uncertain";
        }
      },
      lost: () => Object.assign(f, { state: "uncertain", lost: { probe: true } }),
    };
  }],
};

/** A refresh without an answer: retried after the restart (inside the grace window). */
function lostRefresh(f) {
  f.state = "uncertain";
  f.lost = { refresh: f.refresh, sentMs: f.sentMs };
}

/** A new family from an acknowledged login: it evicts the user's oldest beyond the limit. */
export function createdFamily(m, kind, res, user, scopes) {
  const pair = checkPair(m, kind, res, { user, scopes });
  if (!pair) return null;
  for (const gone of m.evictFor(user)) {
    m.endFamily(gone, "evicted");
    m.evicted += 1;
  }
  const f = { id: m.families.length, user, scopes, sid: pair.sid, access: pair.access, refresh: pair.refresh, jti: pair.jti, created: pair.iat, lastAccess: pair.iat, state: "live", old: [], events: [kind] };
  m.families.push(f);
  return f;
}
