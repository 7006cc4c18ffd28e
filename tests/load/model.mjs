// What the load run knows: every token and JWT session family whose creation was acknowledged,
// and what each acknowledged answer implies; the locks that keep two conflicting requests from
// running at once (so every answer has exactly one right value); the seeded generator; and the
// tally of answers. Tokens and secrets stay in memory: messages name ids, kinds and statuses.

export const KNOWN_SCOPES = ["read:all", "exec:notebook", "read:image", "write:files"];
export const ALL_SCOPES = [...KNOWN_SCOPES, "user:token"];
export const TOKEN_RE = /^pc-([A-Za-z0-9_-]{22})\.[A-Za-z0-9_-]{22}$/;
/** The HTTP service's defaults (docs/CONFIG.md). */
export const SESSIONS_PER_USER = 10;
export const ACCESS_LIFETIME = 900;
/** Refresh grace is 10 s: retries are sent well inside it, reuses well after it. */
export const SURELY_IN_GRACE_MS = 7_000;
export const SURELY_PAST_GRACE_MS = 12_000;

/** SplitMix32-style generator: the same seed gives the same sequence of choices. */
export class Rng {
  constructor(seed) {
    this.state = seed >>> 0;
  }
  next() {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32;
  }
  int(n) {
    return Math.floor(this.next() * n);
  }
  pick(items) {
    return items.length ? items[this.int(items.length)] : undefined;
  }
  subset(items, p = 0.5) {
    return items.filter(() => this.next() < p);
  }
}

/**
 * Readers/writer locks on named resources; an operation takes all its locks or none. A writer
 * that finds its resource busy is parked and new readers wait behind it, so writers (logins,
 * listings) are not starved by a stream of readers.
 */
export class Locks {
  constructor() {
    this.held = new Map();
    this.wanted = new Set(); // resources a parked writer waits for: no new readers
  }
  free(reads, writes, parked = false) {
    for (const r of writes) if (this.held.has(r) || (!parked && this.wanted.has(r))) return false;
    for (const r of reads) if (this.held.get(r) === "w" || this.wanted.has(r)) return false;
    return true;
  }
  want(writes) {
    for (const r of writes) this.wanted.add(r);
  }
  take(reads, writes) {
    for (const r of writes) {
      this.held.set(r, "w");
      this.wanted.delete(r);
    }
    for (const r of reads) this.held.set(r, (this.held.get(r) ?? 0) + 1);
  }
  release(reads, writes) {
    for (const r of writes) this.held.delete(r);
    for (const r of reads) {
      const n = this.held.get(r) - 1;
      if (n > 0) this.held.set(r, n);
      else this.held.delete(r);
    }
  }
}

/** The payload of a JWT (no verification: the server's answers are what is checked). */
export function jwtClaims(token) {
  const parts = typeof token === "string" ? token.split(".") : [];
  if (parts.length !== 3) return null;
  try {
    return JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
  } catch {
    return null;
  }
}

export const sorted = (scopes) => [...new Set(scopes)].sort();
export const sameSet = (a, b) => JSON.stringify(sorted(a ?? [])) === JSON.stringify(sorted(b ?? []));

export class Model {
  constructor(users) {
    this.users = users.map((name) => ({ name, pending: emptyPending(), tainted: false, needsFlush: false }));
    this.tokens = []; // {id, user, key, token, type, scopes, name?, service?, parent?, expires?, state, children}
    this.byKey = new Map();
    this.slots = new Map(); // parent id | service | scopes -> child id
    this.families = []; // {id, user, sid, scopes, access, refresh, created, lastAccess, state, old: [...], lost}
    this.names = 0;
    this.evicted = 0; // sessions the per-user limit ended
    this.wrong = 0;
    this.wrongSamples = [];
    this.serverErrors = 0;
    this.unanswered = 0;
    this.byKind = new Map(); // kind -> {ops, requests}
  }

  user(name) {
    return this.users.find((u) => u.name === name);
  }

  /** A wrong answer: counted, and the first few described (never with a token). */
  fail(kind, message) {
    this.wrong += 1;
    if (this.wrongSamples.length < 25) this.wrongSamples.push(`${kind}: ${message}`);
  }

  count(kind, requests = 1) {
    const k = this.byKind.get(kind) ?? { ops: 0, requests: 0 };
    k.ops += 1;
    k.requests += requests;
    this.byKind.set(kind, k);
  }

  addToken(fields) {
    const token = { id: this.tokens.length, state: "live", children: new Set(), ...fields };
    this.tokens.push(token);
    this.byKey.set(token.key, token);
    if (token.parent !== undefined) this.tokens[token.parent].children.add(token.id);
    return token;
  }

  /** The token and every descendant the model knows of. */
  tree(token) {
    const out = [token];
    for (let i = 0; i < out.length && i < 10_000; i++) for (const c of out[i].children) out.push(this.tokens[c]);
    return out;
  }

  revoke(token) {
    for (const t of this.tree(token)) {
      t.state = "revoked";
      if (t.slot && this.slots.get(t.slot) === t.id) this.slots.delete(t.slot);
    }
  }

  depth(token) {
    let d = 0;
    for (let t = token; t.parent !== undefined && d < 100; t = this.tokens[t.parent]) d += 1;
    return d;
  }

  liveFamilies(user) {
    return this.families.filter((f) => f.user === user && f.state === "live");
  }

  /** What a new session of `user` evicts: the oldest beyond the limit (created, last access, id). */
  evictFor(user) {
    const live = this.liveFamilies(user).sort((a, b) => a.created - b.created || a.lastAccess - b.lastAccess || (a.sid < b.sid ? -1 : a.sid > b.sid ? 1 : 0));
    return live.length >= SESSIONS_PER_USER ? live.slice(0, live.length + 1 - SESSIONS_PER_USER) : [];
  }

  endFamily(family, why = "ended") {
    family.state = "ended";
    family.events?.push(why);
  }
}

export function emptyPending() {
  return { names: new Set(), delegates: 0, revokes: [], sessions: 0 };
}
