// Races against running Portcullis instances that share one state (SQL + KV): concurrent
// refreshes of one refresh token, concurrent child-token requests, concurrent session creation
// at the per-user limit under both policies, and lock contention between one user's children.
// Every round fires its requests at once, split across the instances, then checks the
// invariants through the HTTP API and, when given, directly in the database.
//
//   import { raceSuite } from "../races/races.mjs";
//   raceSuite({ label, urls, limitUrls: { refuse, evict_oldest }, bootstrapToken, rounds,
//               concurrency, grace, limit, sql });
//
// `urls` serve refreshes and children; `limitUrls.refuse` / `limitUrls.evict_oldest` are
// instances configured with PORTCULLIS_SESSIONS_WHEN_FULL=refuse / evict_oldest and
// PORTCULLIS_SESSIONS_PER_USER=`limit` (all of them may share one state: every round uses its
// own users). `grace` is PORTCULLIS_JWT_REFRESH_GRACE. `sql(query)` (optional) returns rows as
// arrays of strings. Figures go to stdout and, with RACES_REPORT=<file>, to a JSON file.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync } from "node:fs";
import http from "node:http";

import { errorType, keyOf, send, username } from "../http/suite.mjs";

const REQUEST_TIMEOUT_MS = 30_000;

/** A keep-alive client per base URL, with enough sockets for every request of a round. */
export function pool(urls, sockets) {
  const agent = () => new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  let agents = urls.map(agent);
  function call(i, method, path, { token, json } = {}) {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const u = i % urls.length;
    return send(new URL(path, urls[u]), method, { headers, json, agent: agents[u], timeoutMs: REQUEST_TIMEOUT_MS });
  }
  /**
   * Opens `sockets` fresh connections to every URL, so a round's requests leave together. After a
   * pause, idle sockets may be closing on the server's side (wrangler's proxy closes them after a
   * few seconds): they are dropped first, never reused.
   */
  async function warm() {
    agents.forEach((a) => a.destroy());
    agents = urls.map(agent);
    await Promise.all(urls.flatMap((_, u) => Array.from({ length: sockets }, () => call(u, "GET", "/health"))));
  }
  const close = () => agents.forEach((a) => a.destroy());
  return { call, warm, close, size: urls.length };
}

/** The claims of a JWT (its payload; the signature is not looked at). */
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
/** Identifiers come from the service (base64url), so they may be inlined into SQL. */
const list = (ids) => ids.map((id) => (assert.match(id, /^[A-Za-z0-9_-]+$/), `'${id}'`)).join(", ");

/** Per race kind: rounds, requests, outcomes (status and error type), violations. */
class Tally {
  constructor(kind, instances) {
    Object.assign(this, { kind, instances, rounds: 0, requests: 0, outcomes: {}, violations: [] });
  }
  count(r) {
    this.requests++;
    const outcome = r.status === 200 || r.status === 201 || r.status === 204 ? String(r.status) : `${r.status} ${errorType(r) ?? "?"}`;
    this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
    return r;
  }
  check(ok, what) {
    if (!ok) this.violations.push(what);
  }
  line(label) {
    const outcomes = Object.entries(this.outcomes).sort().map(([k, v]) => `${k}: ${v}`).join(", ");
    return `races ${label} ${this.kind}: ${this.rounds} rounds on ${this.instances} instance(s), ${this.requests} requests (${outcomes}), violations: ${this.violations.length}`;
  }
}

export function raceSuite({ label, urls, limitUrls, bootstrapToken, rounds, concurrency: k, grace, limit, sql }) {
  const all = pool(urls, k);
  const policies = Object.fromEntries(Object.entries(limitUrls).map(([policy, u]) => [policy, pool(u, 2 * limit + 2)]));
  const admin = bootstrapToken;
  const tallies = [];
  after(() => {
    all.close();
    Object.values(policies).forEach((p) => p.close());
    for (const t of tallies) console.log(`# ${t.line(label)}`);
    if (process.env.RACES_REPORT) {
      const rows = tallies.map(({ kind, instances, rounds, requests, outcomes, violations }) => ({ label, kind, instances, rounds, requests, outcomes, violations: violations.length, concurrency: k }));
      appendFileSync(process.env.RACES_REPORT, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
    }
  });
  const tally = (kind, instances = urls.length) => {
    const t = new Tally(kind, instances);
    tallies.push(t);
    return t;
  };
  /** Fires `n` requests at once, request i to instance i mod (instances). */
  const fire = (p, t, n, request) => Promise.all(Array.from({ length: n }, (_, i) => request(i).then((r) => t.count(r))));
  const finish = (t) => assert.deepEqual(t.violations, [], `${t.violations.length} violations: ${t.line(label)}`);

  async function session(p, i, user) {
    const r = await p.call(i, "POST", "/auth/api/v1/sessions", { token: admin, json: { username: user, scopes: ["read:all"] } });
    assert.equal(r.status, 200, r.text);
    return r.data;
  }
  /** Whether an access token is live on every instance: fast (user-info) and strict (a list). */
  async function liveness(p, token, user) {
    const fast = await Promise.all(Array.from({ length: p.size }, (_, i) => p.call(i, "GET", "/auth/api/v1/user-info", { token })));
    const strict = await p.call(0, "GET", `/auth/api/v1/users/${user}/tokens`, { token });
    return { fast: fast.map((r) => r.status), strict: strict.status };
  }
  const isLive = (l) => l.fast.every((s) => s === 200) && l.strict === 200;
  const isDead = (l) => l.fast.every((s) => s === 401) && l.strict === 401;

  describe(`races on ${label}`, { concurrency: 1 }, () => {
    const shared = { skip: urls.length === 0 && "no instance for these races" };
    test("concurrent refreshes of one refresh token; reuse after the grace window", shared, async () => {
      const t = tally("refresh");
      const reuse = tally("refresh reuse after grace");
      await all.warm();
      const families = [];
      let lastRotation = 0;
      for (let round = 0; round < rounds; round++) {
        t.rounds++;
        const user = username("race");
        const first = await session(all, round, user);
        // Odd rounds also rotate the successor as soon as the first answer arrives, while the
        // other requests for the old token are still in flight.
        const chain = round % 2 === 1;
        let chained = null;
        const answers = await fire(all, t, k, (i) =>
          all.call(i, "POST", "/auth/api/v1/sessions/refresh", { json: { refresh_token: first.refresh_token } }).then((r) => {
            if (chain && r.status === 200 && !chained) {
              chained = all.call(i + 1, "POST", "/auth/api/v1/sessions/refresh", { json: { refresh_token: r.data.refresh_token } }).then((c) => t.count(c));
            }
            return r;
          }),
        );
        const next = chained && (await chained);
        lastRotation = Date.now();
        const ok = answers.filter((r) => r.status === 200);
        const pairs = new Set(ok.map((r) => `${r.data.access_token} ${r.data.refresh_token}`));
        t.check(pairs.size <= 1, `round ${round}: ${pairs.size} different successor pairs`);
        const family = claims(first.access_token).sid;
        const reused = answers.some((r) => errorType(r) === "refresh_token_reused");
        if (!chain) {
          // Within the grace window every request gets the pair.
          t.check(ok.length === k, `round ${round}: ${ok.length}/${k} refreshes succeeded: ${[...new Set(answers.map((r) => r.status))]}`);
        } else {
          // A request for the old token that arrives after its successor was used is a reuse:
          // the whole family is revoked. Otherwise the chained pair is the one live.
          t.check(answers.every((r) => r.status === 200 || errorType(r) === "refresh_token_reused" || errorType(r) === "refresh_token_not_found"), `round ${round}: unexpected answers ${answers.map((r) => r.status)}`);
          t.check(next?.status === 200 || reused, `round ${round}: the chained refresh failed without a reuse: ${next?.status} ${next && errorType(next)}`);
        }
        const successor = ok[0]?.data;
        const dead = [first.access_token];
        let live = null;
        if (!chain) live = successor;
        else if (!reused && next?.status === 200) {
          live = next.data;
          dead.push(successor.access_token);
        } else {
          if (successor) dead.push(successor.access_token);
          if (next?.status === 200) dead.push(next.data.access_token);
        }
        for (const token of dead) {
          const l = await liveness(all, token, user);
          t.check(isDead(l), `round ${round}: a superseded or revoked access token is live: ${JSON.stringify(l)}`);
        }
        if (live) {
          const l = await liveness(all, live.access_token, user);
          t.check(isLive(l), `round ${round}: the successor is not live: ${JSON.stringify(l)}`);
        }
        families.push({ round, user, family, chain, first, successor, live, revoked: !live });
      }

      if (sql) {
        // Exactly one live access token and one unused refresh token per live family, none of
        // either in a revoked one, and the live ones are the successors handed out.
        const ids = families.map((f) => f.family);
        const access = Object.fromEntries((await sql(`SELECT family, COUNT(*), MIN(jti) FROM access_token WHERE family IN (${list(ids)}) GROUP BY family`)).map(([f, n, jti]) => [f, { n: Number(n), jti }]));
        const refresh = Object.fromEntries((await sql(`SELECT family, COUNT(*), MIN(jti) FROM refresh_token WHERE used_at IS NULL AND family IN (${list(ids)}) GROUP BY family`)).map(([f, n, jti]) => [f, { n: Number(n), jti }]));
        for (const f of families) {
          if (f.live) {
            t.check(access[f.family]?.n === 1 && access[f.family].jti === claims(f.live.access_token).jti, `round ${f.round}: access tokens in SQL: ${access[f.family]?.n ?? 0}, or not the successor`);
            t.check(refresh[f.family]?.n === 1 && refresh[f.family].jti === claims(f.live.refresh_token).jti, `round ${f.round}: unused refresh tokens in SQL: ${refresh[f.family]?.n ?? 0}, or not the successor`);
          } else {
            t.check(!access[f.family] && !refresh[f.family], `round ${f.round}: a revoked family keeps tokens in SQL`);
          }
        }
      }
      finish(t);

      // After the grace window: the old token presented again (K at once) revokes the family,
      // while its successor is being rotated by a legitimate client at the same moment.
      const wait = lastRotation + (grace + 2) * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
      await all.warm();
      for (const f of families.filter((f) => !f.chain)) {
        reuse.rounds++;
        const n = Math.max(2, k / 2);
        const answers = await fire(all, reuse, n + 1, (i) =>
          all.call(i, "POST", "/auth/api/v1/sessions/refresh", { json: { refresh_token: i === n ? f.successor.refresh_token : f.first.refresh_token } }),
        );
        const replays = answers.slice(0, n);
        reuse.check(replays.every((r) => r.status === 401), `round ${f.round}: a replay after the grace window was answered ${replays.map((r) => r.status)}`);
        reuse.check(replays.some((r) => errorType(r) === "refresh_token_reused"), `round ${f.round}: no replay was reported as a reuse`);
        const rotated = answers[n];
        const tokens = [f.successor.access_token, ...(rotated.status === 200 ? [rotated.data.access_token] : [])];
        for (const token of tokens) {
          const l = await liveness(all, token, f.user);
          reuse.check(isDead(l), `round ${f.round}: an access token of a revoked family is live: ${JSON.stringify(l)}`);
        }
        const again = reuse.count(await all.call(f.round, "POST", "/auth/api/v1/sessions/refresh", { json: { refresh_token: rotated.status === 200 ? rotated.data.refresh_token : f.successor.refresh_token } }));
        reuse.check(again.status === 401, `round ${f.round}: a refresh token of a revoked family still rotates`);
      }
      if (sql && reuse.rounds) {
        const ids = families.filter((f) => !f.chain).map((f) => f.family);
        const left = await sql(`SELECT family, COUNT(*) FROM access_token WHERE family IN (${list(ids)}) GROUP BY family UNION ALL SELECT family, COUNT(*) FROM refresh_token WHERE family IN (${list(ids)}) GROUP BY family`);
        reuse.check(left.length === 0, `${left.length} revoked families keep tokens in SQL`);
      }
      finish(reuse);
    });

    test("concurrent child-token requests with one parent", shared, async () => {
      const t = tally("child token");
      await all.warm();
      const parents = [];
      for (let round = 0; round < rounds; round++) {
        t.rounds++;
        const user = username("race");
        const made = await all.call(round, "POST", "/auth/api/v1/tokens", {
          token: admin,
          json: { username: user, token_type: "user", token_name: "parent", scopes: ["read:all", "exec:notebook"] },
        });
        assert.equal(made.status, 201, made.text);
        const parent = made.data.token;
        // Even rounds delegate an internal token, odd ones a notebook token.
        const internal = round % 2 === 0;
        const path = internal ? "/auth?scope=read:all&delegate_to=race-svc&delegate_scope=read:all" : "/auth?scope=exec:notebook&notebook=true";
        const answers = await fire(all, t, k, (i) => all.call(i, "GET", path, { token: parent }));
        const children = new Set(answers.map((r) => r.headers["x-auth-request-token"]));
        t.check(answers.every((r) => r.status === 200), `round ${round}: answers ${answers.map((r) => r.status)}`);
        t.check(children.size === 1 && !children.has(undefined), `round ${round}: ${children.size} different children`);
        const child = [...children][0];
        const tokens = await all.call(round, "GET", `/auth/api/v1/users/${user}/tokens`, { token: admin });
        const kids = tokens.data.filter((i) => i.parent === keyOf(parent));
        t.check(kids.length === 1 && kids[0].token === keyOf(child ?? "x-.") && kids[0].token_type === (internal ? "internal" : "notebook"), `round ${round}: ${kids.length} children listed`);
        const history = await all.call(round + 1, "GET", `/auth/api/v1/users/${user}/token-change-history`, { token: admin });
        const created = history.data.filter((e) => e.action === "create" && e.parent === keyOf(parent));
        t.check(created.length === 1, `round ${round}: ${created.length} children in the history`);
        if (child) {
          const use = await all.call(round, "GET", "/auth?scope=read:all", { token: child });
          t.check(use.status === 200, `round ${round}: the child is refused: ${use.status}`);
        }
        parents.push({ round, key: keyOf(parent) });
      }
      if (sql) {
        const rows = await sql(`SELECT parent, COUNT(*) FROM subtoken WHERE parent IN (${list(parents.map((p) => p.key))}) GROUP BY parent`);
        const count = Object.fromEntries(rows.map(([p, n]) => [p, Number(n)]));
        for (const p of parents) t.check(count[p.key] === 1, `round ${p.round}: ${count[p.key] ?? 0} children in SQL`);
      }
      finish(t);
    });

    test("lock contention: one user's children for several services at once", shared, async () => {
      const t = tally("per-user lock");
      await all.warm();
      const services = Math.max(2, Math.floor(k / 2));
      for (let round = 0; round < rounds; round++) {
        t.rounds++;
        const user = username("race");
        const made = await all.call(round, "POST", "/auth/api/v1/tokens", {
          token: admin,
          json: { username: user, token_type: "user", token_name: "parent", scopes: ["read:all"] },
        });
        assert.equal(made.status, 201, made.text);
        const parent = made.data.token;
        // Every service twice, all under the same per-user lock.
        const answers = await fire(all, t, 2 * services, (i) =>
          all.call(i, "GET", `/auth?scope=read:all&delegate_to=svc${i % services}&delegate_scope=read:all`, { token: parent }),
        );
        t.check(answers.every((r) => r.status === 200), `round ${round}: answers ${answers.map((r) => r.status)}`);
        for (let s = 0; s < services; s++) {
          const same = new Set(answers.filter((_, i) => i % services === s).map((r) => r.headers["x-auth-request-token"]));
          t.check(same.size === 1, `round ${round}: service ${s} got ${same.size} different children`);
        }
        const tokens = await all.call(round, "GET", `/auth/api/v1/users/${user}/tokens`, { token: admin });
        const kids = tokens.data.filter((i) => i.parent === keyOf(parent));
        t.check(kids.length === services && new Set(kids.map((c) => c.service)).size === services, `round ${round}: ${kids.length} children for ${services} services`);
      }
      finish(t);
    });

    for (const [policy, p] of Object.entries(policies)) {
      test(`concurrent session creation at the per-user limit (${policy})`, async () => {
        const t = tally(`session limit (${policy})`, p.size);
        await p.warm();
        const n = 2 * limit + 2;
        const users = [];
        for (let round = 0; round < rounds; round++) {
          t.rounds++;
          const user = username("race");
          const before = await p.call(round, "GET", "/auth/api/v1/admin/metrics", { token: admin });
          const answers = await fire(p, t, n, (i) =>
            p.call(i, "POST", "/auth/api/v1/sessions", { token: admin, json: { username: user, scopes: ["read:all"] } }),
          );
          const ok = answers.filter((r) => r.status === 200);
          if (policy === "refuse") {
            t.check(ok.length === limit, `round ${round}: ${ok.length} sessions made under a limit of ${limit}`);
            const refused = answers.filter((r) => r.status !== 200);
            t.check(refused.every((r) => r.status === 409 && errorType(r) === "session_limit_reached"), `round ${round}: refusals ${refused.map((r) => `${r.status} ${errorType(r)}`)}`);
          } else {
            t.check(ok.length === n, `round ${round}: ${ok.length}/${n} sessions made with eviction: ${answers.map((r) => r.status)}`);
          }
          // However many were handed out, at most `limit` are live, on every instance and in
          // SQL, and the fast path agrees with the strict one.
          const states = await Promise.all(ok.map((r) => liveness(p, r.data.access_token, user)));
          const live = states.filter(isLive).length;
          const anyLive = states.filter((l) => l.fast.includes(200) || l.strict === 200).length;
          t.check(states.every((l) => isLive(l) || isDead(l)), `round ${round}: fast and strict validation disagree: ${JSON.stringify(states.filter((l) => !isLive(l) && !isDead(l)))}`);
          t.check(anyLive <= limit && live === limit, `round ${round}: ${live} sessions live (${anyLive} anywhere) under a limit of ${limit}`);
          const afterwards = await p.call(round + 1, "GET", "/auth/api/v1/admin/metrics", { token: admin });
          const delta = afterwards.data.active_sessions - before.data.active_sessions;
          t.check(delta === limit, `round ${round}: active sessions grew by ${delta} under a limit of ${limit}`);
          users.push({ round, user });
        }
        if (sql) {
          const now = Math.floor(Date.now() / 1000);
          const rows = await sql(`SELECT username, COUNT(*) FROM session WHERE manager = 'jwt' AND expires > ${now} AND username IN (${list(users.map((u) => u.user))}) GROUP BY username`);
          const count = Object.fromEntries(rows.map(([u, c]) => [u, Number(c)]));
          for (const u of users) t.check(count[u.user] === limit, `round ${u.round}: ${count[u.user] ?? 0} sessions in SQL under a limit of ${limit}`);
        }
        finish(t);
      });
    }
  });
}

/** The run's size from the environment: RACE_ROUNDS, RACE_CONCURRENCY, RACE_GRACE, RACE_LIMIT. */
export function raceParams() {
  const int = (name, fallback, min) => {
    const v = Number(process.env[name] ?? fallback);
    assert.ok(Number.isInteger(v) && v >= min, `${name} must be an integer >= ${min}`);
    return v;
  };
  return { rounds: int("RACE_ROUNDS", 4, 1), concurrency: int("RACE_CONCURRENCY", 8, 2), grace: int("RACE_GRACE", 5, 1), limit: int("RACE_LIMIT", 3, 1) };
}

/** The settings every instance of a race run shares, as PORTCULLIS_* variables. */
export function raceSettings({ grace, limit }, policy) {
  return {
    PORTCULLIS_KNOWN_SCOPES: "read:all,exec:notebook,read:image,write:files",
    PORTCULLIS_JWT_REFRESH_GRACE: String(grace),
    PORTCULLIS_SESSIONS_PER_USER: String(limit),
    PORTCULLIS_SESSIONS_WHEN_FULL: policy,
  };
}
