// The two pages in Debian's Chromium, driven by playwright-core, against a real server: the one
// at BASE_URL (with BOOTSTRAP_TOKEN), or else the Worker on local workerd, started here.
// Screenshots go to test-output/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startWorker } from '../../tests/worker/harness.mjs';

let BASE = process.env.BASE_URL;
let BOOTSTRAP = process.env.BOOTSTRAP_TOKEN;
let worker;
const SHOTS = new URL('../../test-output/', import.meta.url).pathname;
// Which server the screenshots show (file name prefix).
const TARGET = process.env.PAGES_TARGET ?? (process.env.BASE_URL ? 'server' : 'worker');
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let context;
let profile;
const pageErrors = [];

async function api(method, path, token, body) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function newPage() {
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`));
  page.on('console', (message) => {
    // A failed load is reported below from the response itself; an API 4xx the test provokes
    // on purpose (a duplicate name) is the page working, not failing.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      pageErrors.push(`${page.url()}: console: ${message.text()}`);
    }
  });
  page.on('response', (response) => {
    const api = new URL(response.url()).pathname.startsWith('/auth/');
    if (!api && response.status() >= 400) pageErrors.push(`${response.url()}: HTTP ${response.status()}`);
  });
  return page;
}

before(async () => {
  if (!BASE) {
    worker = await startWorker();
    ({ baseUrl: BASE, bootstrapToken: BOOTSTRAP } = worker);
  }
  mkdirSync(SHOTS, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'portcullis-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args: FLAGS, timeout: 60_000,
  });
});

after(async () => {
  await context?.close();
  await worker?.stop();
  rmSync(profile, { recursive: true, force: true });
  assert.deepEqual(pageErrors, [], 'the pages raised JavaScript errors');
});

async function inspect(page, token, fields = {}) {
  await page.goto(`${BASE}/index.html`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.fill('#token', token);
  for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value);
  await page.click('#verify');
  await page.waitForSelector('#rules tr');
  const rules = await page.$$eval('#rules tr', (rows) => Object.fromEntries(rows.map((r) => [r.dataset.rule, r.dataset.outcome])));
  const verdict = await page.textContent('#verdict');
  return { rules, verdict };
}

test('a server-issued token verifies in the inspector; tampered, expired and wrong-audience ones fail the right rule', async () => {
  const pair = await api('POST', '/auth/api/v1/sessions', BOOTSTRAP, { username: `alice${Date.now().toString(36)}`, scopes: ['user:token'] });
  const page = await newPage();

  const good = await inspect(page, pair.access_token);
  assert.equal(good.verdict, 'The token passes every rule.');
  for (const rule of ['signature', 'kid', 'exp', 'nbf', 'iss', 'aud', 'type']) assert.equal(good.rules[rule], 'pass', rule);
  assert.match(await page.textContent('#key'), /"kty"/);
  assert.match(await page.textContent('#expiry'), /expires in/);
  await page.screenshot({ path: join(SHOTS, `${TARGET}-inspector.png`), fullPage: true });

  const [head, body, sig] = pair.access_token.split('.');
  const flipped = sig.slice(0, 5) + (sig[5] === 'A' ? 'B' : 'A') + sig.slice(6);
  const tampered = await inspect(page, `${head}.${body}.${flipped}`);
  assert.equal(tampered.rules.signature, 'fail');
  assert.match(tampered.verdict, /NOT valid/);

  // Offline: the JWKS endpoint is unreachable, the cached copy still verifies.
  await page.route('**/.well-known/jwks.json', (route) => route.abort('internetdisconnected'));
  const offline = await inspect(page, pair.access_token);
  assert.equal(offline.verdict, 'The token passes every rule.');
  assert.match(await page.textContent('#status'), /cached JWKS/);
  await page.unroute('**/.well-known/jwks.json');

  const audience = await inspect(page, pair.access_token, { audience: 'someone-else' });
  assert.equal(audience.rules.aud, 'fail');
  assert.equal(audience.rules.signature, 'pass');

  // An hour later in the page's clock, the 15-minute token has expired.
  await page.clock.install({ time: Date.now() + 3600_000 });
  const expired = await inspect(page, pair.access_token);
  assert.equal(expired.rules.exp, 'fail');
  assert.match(await page.textContent('#expiry'), /expired/);
  await page.screenshot({ path: join(SHOTS, `${TARGET}-inspector-expired.png`), fullPage: true });
  await page.close();
});

test('create, list and revoke a token in the manager', async () => {
  const bob = `bob${Date.now().toString(36)}`;
  const made = await api('POST', '/auth/api/v1/tokens', BOOTSTRAP, {
    username: bob, token_type: 'user', token_name: 'browser-login', scopes: ['user:token'], email: `${bob}@example.com`,
  });
  const page = await newPage();
  await page.goto(`${BASE}/tokens.html`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.fill('#credential', made.token);
  await page.click('#signin-form button[type="submit"]');
  await page.waitForSelector('#signed-in:not([hidden])');
  assert.match(await page.textContent('#whoami'), new RegExp(`Signed in as ${bob} <${bob}@example.com>`));

  await page.fill('#name', 'ci-token');
  await page.fill('#scopes', 'user:token');
  await page.click('#create-form button[type="submit"]');
  await page.waitForSelector('#new-token:not([hidden])');
  const secret = await page.textContent('#new-token-value');
  assert.match(secret, /^pc-[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
  await page.waitForSelector('#tokens tr:has-text("ci-token")');
  await page.screenshot({ path: join(SHOTS, `${TARGET}-manager.png`), fullPage: true });

  // A duplicate name gets a clear message.
  await page.fill('#name', 'ci-token');
  await page.click('#create-form button[type="submit"]');
  await page.waitForSelector('#status.error');
  assert.match(await page.textContent('#status'), /duplicate_token_name/);

  page.once('dialog', (dialog) => dialog.accept());
  await page.click('#tokens tr:has-text("ci-token") button.danger');
  await page.waitForSelector('#tokens tr:has-text("ci-token")', { state: 'detached' });
  await page.waitForSelector('#history tr[data-action="revoke"]');
  // The revoked token no longer works.
  const check = await fetch(`${BASE}/auth/api/v1/token-info`, { headers: { Authorization: `Bearer ${secret}` } });
  assert.equal(check.status, 401);
  await page.close();
});

test('the bootstrap token is refused from the pages, and no response sets a cookie', async () => {
  const page = await newPage();
  const setCookie = [];
  page.on('response', async (response) => {
    if ((await response.allHeaders())['set-cookie']) setCookie.push(new URL(response.url()).pathname);
  });
  await page.goto(`${BASE}/tokens.html`);
  await page.waitForSelector('body[data-ready="true"]');
  // Signing in to the manager with it fails: the server refuses it on a browser's request.
  await page.fill('#credential', BOOTSTRAP);
  await page.click('#signin-form button[type="submit"]');
  await page.waitForSelector('#status.error');
  assert.match(await page.textContent('#status'), /permission_denied/);
  assert.equal(await page.isHidden('#signed-in'), true);
  // So does a script on the page that tries it directly (an injected script, say).
  const statuses = await page.evaluate(async (token) => {
    const call = (path, init = {}) => fetch(path, { ...init, headers: { Authorization: `Bearer ${token}`, ...init.headers } });
    return [
      (await call('/auth/api/v1/token-info')).status,
      (await call('/auth/api/v1/tokens', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: 'mallory', token_type: 'user', token_name: 'x', scopes: ['admin:token'] }),
      })).status,
    ];
  }, BOOTSTRAP);
  assert.deepEqual(statuses, [403, 403]);
  // Credentials travel as bearer tokens only: nothing sets a cookie, so none rides along.
  assert.deepEqual(setCookie, []);
  assert.deepEqual(await context.cookies(), []);
  await page.close();
});
