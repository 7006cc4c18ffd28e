//! The fault-injection model shared by tests/faults.rs (SQLite + MemoryKv) and
//! crates/native/tests/faults.rs (PostgreSQL + Redis): random operations under a failure plan,
//! checked against what was acknowledged. docs/RELIABILITY.md describes the invariants.
#![allow(dead_code)] // each driver uses its own parts

use std::rc::Rc;
use std::time::Instant;

use crate::chaos::{self, Mode, SharedPlan, OPERATIONS};
use crate::common::{config, key_ring, NOW};
use portcullis::{
    Clock, Kv, LocalBoxFuture, Sql, TokenChanges, TokenData, TokenKey, TokenService, TokenType, UserInfo,
};
use portcullis_native::testing::MockClock;

/// SplitMix64: small, fast, and the same everywhere.
pub struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            Some(&items[self.below(items.len() as u64) as usize])
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Live,
    Revoked,
    /// A revocation that failed: it may or may not have happened.
    Unknown,
}

#[derive(Debug, Clone)]
struct Tracked {
    text: String,
    key: TokenKey,
    username: String,
    token_type: TokenType,
    parent: Option<usize>,
    state: State,
    /// The expiry lies in [lo, hi] (None: never); a failed change leaves a range.
    expires_lo: Option<i64>,
    expires_hi: Option<i64>,
}

const USERS: [&str; 3] = ["alice", "bob", "carol"];
const SCOPES: [&str; 3] = ["read:all", "exec:notebook", "user:token"];

#[derive(Default, Debug)]
pub struct Figures {
    pub sequences: u64,
    pub steps: u64,
    pub faulted_steps: u64,
    pub faults_injected: u64,
    /// Faults injected by plan: named, nth, from, applied then failed, garbage.
    pub faults_by_kind: [u64; 5],
    pub failed_operations: u64,
    pub tokens_acknowledged: u64,
    pub revocations_acknowledged: u64,
    pub audits: u64,
    pub audit_issues_fixed: u64,
    /// Clock jumps to just before an expiry (on a running clock only).
    pub jumps_near_expiry: u64,
}

/// The test's clock: the mock clock alone, or (for stores whose TTLs follow real time, like
/// Redis) the mock clock plus the real time since the start, so a TTL never runs out before the
/// expiry it was computed from.
#[derive(Clone)]
pub struct WorldClock {
    mock: MockClock,
    start: Option<Instant>,
}

impl WorldClock {
    pub fn mock() -> WorldClock {
        WorldClock { mock: MockClock::at(NOW), start: None }
    }

    pub fn running() -> WorldClock {
        WorldClock { mock: MockClock::at(NOW), start: Some(Instant::now()) }
    }

    /// The mock clock alone (what a MemoryKv's TTLs follow).
    pub fn mock_part(&self) -> &MockClock {
        &self.mock
    }

    fn advance(&self, seconds: i64) {
        self.mock.advance(seconds);
    }

    /// How long a token picked to act on must stay valid beyond now: 0 s on the mock clock.
    fn margin(&self) -> i64 {
        if self.start.is_some() {
            60
        } else {
            0
        }
    }
}

impl Clock for WorldClock {
    fn now_millis(&self) -> i64 {
        let elapsed = self.start.map_or(0, |s| i64::try_from(s.elapsed().as_millis()).unwrap_or(i64::MAX));
        self.mock.now_millis() + elapsed
    }

    fn sleep(&self, millis: u64) -> LocalBoxFuture<'static, ()> {
        self.mock.sleep(millis)
    }
}

pub struct World {
    service: TokenService,
    clock: WorldClock,
    plan: SharedPlan,
    tokens: Vec<Tracked>,
    admin: Option<(String, TokenData)>,
    names: u64,
    log: Vec<String>,
    seed: u64,
}

fn now(w: &World) -> i64 {
    w.clock.now_millis() / 1000
}

impl World {
    /// A world on `kv` and `sql` (migrated, empty), each wrapped in [`Chaos`].
    pub fn on<K: Kv + 'static, S: Sql + 'static>(seed: u64, kv: K, sql: S, clock: WorldClock) -> World {
        let plan = chaos::plan();
        let env = chaos::env(kv, sql, Rc::new(clock.clone()), &plan);
        let service = TokenService::new(env, key_ring(), config()).unwrap();
        World { service, clock, plan, tokens: Vec::new(), admin: None, names: 0, log: Vec::new(), seed }
    }

    fn fail(&self, what: String) -> ! {
        let tail: Vec<&String> = self.log.iter().rev().take(400).collect::<Vec<_>>().into_iter().rev().collect();
        panic!(
            "seed {}: {what}\nlast steps:\n{}",
            self.seed,
            tail.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
        );
    }

    /// A valid admin session (made with storage healthy; not part of the model).
    async fn admin(&mut self) -> TokenData {
        if let Some((text, _)) = &self.admin {
            if let Ok(data) = self.service.validate(text).await {
                return data;
            }
        }
        let scopes = vec!["admin:token".to_owned()];
        let token = self.service.create_session_token("admin", UserInfo::default(), &scopes, None).await.unwrap();
        let text = self.service.encode(&token);
        let data = self.service.validate(&text).await.unwrap();
        self.admin = Some((text, data.clone()));
        data
    }

    fn expected_valid(&self, t: &Tracked, now: i64) -> Option<bool> {
        match t.state {
            State::Revoked => Some(false),
            State::Unknown => None,
            State::Live => match (t.expires_lo, t.expires_hi) {
                (_, Some(hi)) if now >= hi => Some(false),
                (Some(lo), _) if now >= lo - 1 => None,
                _ => Some(true),
            },
        }
    }

    fn descendants(&self, index: usize) -> Vec<usize> {
        let mut out = vec![index];
        let mut i = 0;
        while i < out.len() {
            let parent = out[i];
            out.extend(self.tokens.iter().enumerate().filter(|(_, t)| t.parent == Some(parent)).map(|(j, _)| j));
            i += 1;
        }
        out
    }

    /// The expiry of a random token that has not expired yet, if any.
    fn soon_expiring(&self, rng: &mut Rng) -> Option<i64> {
        let now = now(self);
        let expiries: Vec<i64> = self.tokens.iter().filter_map(|t| t.expires_hi).filter(|&e| e > now + 2).collect();
        rng.pick(&expiries).copied()
    }

    /// A live, currently valid token to act on (parents, authorities).
    async fn live(&self, rng: &mut Rng, filter: impl Fn(&Tracked) -> bool) -> Option<(usize, TokenData)> {
        // On a running clock, only tokens that stay valid well past this step, so a child made
        // from one cannot expire before it is checked.
        let now = now(self) + self.clock.margin();
        let candidates: Vec<usize> = (0..self.tokens.len())
            .filter(|&i| filter(&self.tokens[i]) && self.expected_valid(&self.tokens[i], now) == Some(true))
            .collect();
        let &i = rng.pick(&candidates)?;
        self.service.validate(&self.tokens[i].text).await.ok().map(|data| (i, data))
    }

    async fn track(&mut self, text: String, parent: Option<usize>, figures: &mut Figures) {
        figures.tokens_acknowledged += 1;
        let data = match self.service.validate_strict(&text).await {
            Ok(data) => data,
            Err(e) => self.fail(format!("a token acknowledged as created is not valid: {e}")),
        };
        if let Some(existing) = self.tokens.iter().find(|t| t.key == data.key) {
            if existing.state == State::Revoked {
                self.fail(format!("a revoked token {} was handed out again", data.key));
            }
            return;
        }
        // A child is capped by its parent: if the parent's expiry is uncertain (a failed change
        // that may have reached SQL), the audit may lower the child to the parent's lower bound.
        let parent_lo = parent.and_then(|p| self.tokens[p].expires_lo);
        let expires_lo = match (data.expires, parent_lo) {
            (Some(own), Some(cap)) => Some(own.min(cap)),
            (own, cap) => own.or(cap),
        };
        self.tokens.push(Tracked {
            text,
            key: data.key.clone(),
            username: data.username.clone(),
            token_type: data.token_type,
            parent,
            state: State::Live,
            expires_lo,
            expires_hi: data.expires,
        });
    }

    /// One random operation with storage failing on `mode`. Returns whether it failed.
    async fn step(&mut self, rng: &mut Rng, mode: Mode, figures: &mut Figures) -> bool {
        let admin = self.admin().await;
        let scopes: Vec<String> = SCOPES.iter().map(|s| s.to_string()).collect();
        let plan = match mode {
            Mode::Off | Mode::Named(_) => 0,
            Mode::Nth(_) => 1,
            Mode::From(_) => 2,
            Mode::AppliedThenFailed(_) => 3,
            Mode::Garbage(_) => 4,
        };
        let kind = rng.below(100);
        let injected_before = self.plan.borrow().injected;
        // Picks happen with storage healthy; only the operation itself runs under `mode`.
        let description;
        let ok = match kind {
            0..=14 => {
                let user = *rng.pick(&USERS).unwrap();
                description = format!("create session for {user}");
                self.arm(mode);
                let result = self.service.create_session_token(user, UserInfo::default(), &scopes, None).await;
                self.disarm();
                match result {
                    Ok(token) => {
                        self.track(self.service.encode(&token), None, figures).await;
                        true
                    }
                    Err(_) => false,
                }
            }
            15..=27 => {
                let Some((_, auth)) = self.live(rng, |t| t.token_type == TokenType::Session).await else {
                    return false;
                };
                self.names += 1;
                let name = format!("token-{}", self.names);
                let expires =
                    if rng.chance(30) { None } else { Some(now(self) + 3600 + rng.below(20 * 86_400) as i64) };
                description = format!("create user token {name} for {} expiring {expires:?}", auth.username);
                let requested = vec!["read:all".to_owned()];
                self.arm(mode);
                let result =
                    self.service.create_user_token(&auth, &auth.username, &name, &requested, expires, None).await;
                self.disarm();
                match result {
                    Ok(token) => {
                        self.track(self.service.encode(&token), None, figures).await;
                        true
                    }
                    Err(_) => false,
                }
            }
            28..=44 => {
                let Some((parent, data)) =
                    self.live(rng, |t| matches!(t.token_type, TokenType::Session | TokenType::User)).await
                else {
                    return false;
                };
                let notebook = rng.chance(50);
                description = format!("{} child of {}", if notebook { "notebook" } else { "internal" }, data.key);
                self.arm(mode);
                let result = if notebook {
                    self.service.get_notebook_token(&data, None, None).await
                } else {
                    let scopes = vec!["read:all".to_owned()];
                    self.service.get_internal_token(&data, "portal", &scopes, None, None).await
                };
                self.disarm();
                match result {
                    Ok(token) => {
                        self.track(self.service.encode(&token), Some(parent), figures).await;
                        true
                    }
                    Err(_) => false,
                }
            }
            45..=59 => {
                let candidates: Vec<usize> =
                    (0..self.tokens.len()).filter(|&i| self.tokens[i].state != State::Revoked).collect();
                let Some(&i) = rng.pick(&candidates) else { return false };
                let (username, key) = (self.tokens[i].username.clone(), self.tokens[i].key.clone());
                description = format!("revoke {key}");
                self.arm(mode);
                let result = self.service.delete_token(&admin, &username, &key, None).await;
                self.disarm();
                let doomed = self.descendants(i);
                match result {
                    Ok(()) => {
                        figures.revocations_acknowledged += 1;
                        for j in doomed {
                            self.tokens[j].state = State::Revoked;
                        }
                        true
                    }
                    // Already gone (expired and deleted, or revoked by an earlier attempt).
                    Err(portcullis::Error::Request(portcullis::RequestError::NotFound)) => true,
                    Err(_) => {
                        for j in doomed {
                            if self.tokens[j].state == State::Live {
                                self.tokens[j].state = State::Unknown;
                            }
                        }
                        false
                    }
                }
            }
            60..=69 => {
                let Some((i, data)) = self.live(rng, |t| t.token_type == TokenType::User).await else { return false };
                let new = now(self) + 3600 + rng.below(10 * 86_400) as i64;
                description = format!("modify {} to expire at {new}", data.key);
                let changes = TokenChanges { expires: Some(Some(new)), ..TokenChanges::default() };
                // A garbled read makes modify skip the KV record yet acknowledge the change: a
                // known core finding (tests/found_bugs.rs), so no garbage here.
                self.arm(if matches!(mode, Mode::Garbage(_)) { Mode::Off } else { mode });
                let result = self.service.modify_token(&admin, &data.username, &data.key, changes, None).await;
                self.disarm();
                let ok = result.is_ok();
                for j in self.descendants(i) {
                    let t = &mut self.tokens[j];
                    let lowered = if j == i { new } else { t.expires_hi.map_or(new, |e| e.min(new)) };
                    if ok && j == i {
                        t.expires_lo = Some(new);
                        t.expires_hi = Some(new);
                    } else if ok {
                        // A descendant only ever comes down to `new`; within its range otherwise.
                        t.expires_lo = Some(t.expires_lo.map_or(new, |e| e.min(new)));
                        t.expires_hi = Some(lowered);
                    } else {
                        t.expires_lo = Some(t.expires_lo.map_or(lowered, |e| e.min(lowered)));
                        t.expires_hi = t.expires_hi.map(|e| e.max(lowered));
                    }
                }
                ok
            }
            70..=77 => {
                // On a running clock, often to 0-2 s before some token's expiry: it then expires
                // in real time during the next steps, and so do the Redis keys written for it.
                let near = if self.clock.margin() > 0 && rng.chance(40) { self.soon_expiring(rng) } else { None };
                figures.jumps_near_expiry += u64::from(near.is_some());
                let seconds = match near {
                    Some(expiry) => (expiry - now(self) - rng.below(3) as i64).max(0),
                    None => rng.below(4 * 86_400) as i64,
                };
                description = format!("advance the clock {seconds} s");
                self.clock.advance(seconds);
                true
            }
            78..=84 => {
                description = "delete expired".to_owned();
                self.arm(mode);
                let result = self.service.delete_expired().await;
                self.disarm();
                result.is_ok()
            }
            85..=92 => {
                let Some(t) = rng.pick(&self.tokens).cloned() else { return false };
                description = format!("validate {}", t.key);
                self.arm(mode);
                let _ = self.service.validate(&t.text).await;
                let _ = self.service.validate_strict(&t.text).await;
                self.disarm();
                true
            }
            _ => {
                let fix = rng.chance(70);
                description = format!("audit(fix={fix})");
                // A garbled read makes audit(true) delete a valid token: a known core finding
                // (tests/found_bugs.rs), so garbage is not injected into a fixing audit.
                self.arm(if fix && matches!(mode, Mode::Garbage(_)) { Mode::Off } else { mode });
                let result = self.service.audit(fix).await;
                self.disarm();
                result.is_ok()
            }
        };
        let injected = self.plan.borrow().injected - injected_before;
        figures.faults_injected += injected;
        figures.faults_by_kind[plan] += injected;
        if injected > 0 {
            figures.faulted_steps += 1;
        }
        if !ok {
            figures.failed_operations += 1;
        }
        self.log.push(format!("  {description} [faults {injected}, ok {ok}]"));
        ok
    }

    fn arm(&self, mode: Mode) {
        let mut plan = self.plan.borrow_mut();
        plan.calls = 0;
        plan.mode = mode;
    }

    fn disarm(&self) {
        self.plan.borrow_mut().mode = Mode::Off;
    }

    /// The invariants that hold after every step.
    async fn check(&self) {
        for t in &self.tokens {
            let at = now(self);
            let Some(expected) = self.expected_valid(t, at) else { continue };
            let fast = self.service.validate(&t.text).await;
            let strict = self.service.validate_strict(&t.text).await;
            // On a running clock a token may expire while it is checked: judge it only when the
            // model says the same before and after.
            if self.expected_valid(t, now(self)) != Some(expected) {
                continue;
            }
            if expected && (fast.is_err() || strict.is_err()) {
                let mut chain = vec![format!("{t:?}")];
                let mut parent = t.parent;
                while let Some(p) = parent {
                    chain.push(format!("{:?}", self.tokens[p]));
                    parent = self.tokens[p].parent;
                }
                self.fail(format!(
                    "acknowledged token {} ({:?}) is invalid at {at}: fast {fast:?}, strict {strict:?}\n{}",
                    t.key,
                    t.token_type,
                    chain.join("\n")
                ));
            }
            if !expected && strict.is_ok() {
                let why = if t.state == State::Revoked { "revoked" } else { "expired" };
                self.fail(format!("{why} token {} ({:?}) is valid under validate_strict", t.key, t.token_type));
            }
            if !expected && fast.is_ok() {
                let why = if t.state == State::Revoked { "revoked" } else { "expired" };
                self.fail(format!("{why} token {} ({:?}) is valid under validate", t.key, t.token_type));
            }
        }
    }

    /// `audit(true)` with storage healthy restores consistency without losing anything.
    async fn audit_and_check(&self, figures: &mut Figures) {
        figures.audits += 1;
        let fixed = self.service.audit(true).await.unwrap();
        figures.audit_issues_fixed += fixed.issues.len() as u64;
        let again = self.service.audit(false).await.unwrap();
        if !again.is_clean() {
            self.fail(format!("audit(false) after audit(true) reports {again:?} (the fix was {fixed:?})"));
        }
        for t in &self.tokens {
            if self.service.validate(&t.text).await.is_ok() && self.service.validate_strict(&t.text).await.is_err() {
                self.fail(format!("after the audit, {} is valid in KV without its SQL row", t.key));
            }
        }
        self.check().await;
    }
}

/// The failure plan for one step: none, some named operations, or one call chosen at random.
fn random_mode(rng: &mut Rng) -> Mode {
    match rng.below(10) {
        0..=3 => Mode::Off,
        4 | 5 => {
            let count = 1 + rng.below(2) as usize;
            Mode::Named((0..count).map(|_| *rng.pick(&OPERATIONS).unwrap()).collect())
        }
        6 => Mode::Nth(1 + rng.below(8)),
        7 => Mode::From(1 + rng.below(8)),
        8 => Mode::AppliedThenFailed(1 + rng.below(8)),
        _ => Mode::Garbage(1 + rng.below(4)),
    }
}

/// One sequence of `steps` on `world`, driven by `world`'s seed.
pub async fn sequence(mut world: World, steps: u64, figures: &mut Figures) {
    let mut rng = Rng(world.seed);
    for step in 0..steps {
        let mode = random_mode(&mut rng);
        world.log.push(format!("step {step}: {mode:?}"));
        world.step(&mut rng, mode, figures).await;
        figures.steps += 1;
        world.check().await;
        if step % 10 == 9 {
            world.audit_and_check(figures).await;
        }
    }
    world.audit_and_check(figures).await;
    figures.sequences += 1;
}

/// The seeds to run (`FAULT_FIRST_SEED`, `FAULT_SEEDS`) and the steps of each (`FAULT_STEPS`),
/// by default `count` × `steps` from the first.
pub fn seeds(count: u64, steps: u64) -> (std::ops::Range<u64>, u64) {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    let first = var("FAULT_FIRST_SEED").unwrap_or(0);
    let seeds = 0xC0FF_EE00 + first..0xC0FF_EE00 + first + var("FAULT_SEEDS").unwrap_or(count);
    (seeds, var("FAULT_STEPS").unwrap_or(steps))
}
