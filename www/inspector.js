// The JWT inspector: every check is the core's (the wasm package); this file only shows results.
import init, { inspect, Verifier } from './pkg/portcullis_web.js';

const $ = (id) => document.getElementById(id);
const JWKS_CACHE = 'portcullis.jwks';

/** The JWKS: fetched, and cached so the page works offline afterwards. */
async function loadJwks(url) {
  try {
    const response = await fetch(url, { cache: 'no-store' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const text = await response.text();
    localStorage.setItem(JWKS_CACHE, JSON.stringify({ url, text, at: Date.now() }));
    return { text, cached: false };
  } catch (error) {
    const cached = JSON.parse(localStorage.getItem(JWKS_CACHE) ?? 'null');
    if (cached && cached.url === url) return { text: cached.text, cached: true };
    throw new Error(`cannot load the JWKS from ${url} (${error.message}) and none is cached`);
  }
}

function show(id, value) {
  $(id).textContent = value === null || value === undefined ? '—' : JSON.stringify(value, null, 2);
}

function describe(seconds) {
  const abs = Math.abs(seconds);
  const text = abs >= 86400 ? `${Math.floor(abs / 86400)} d ${Math.floor((abs % 86400) / 3600)} h`
    : abs >= 3600 ? `${Math.floor(abs / 3600)} h ${Math.floor((abs % 3600) / 60)} min`
    : abs >= 60 ? `${Math.floor(abs / 60)} min ${abs % 60} s` : `${abs} s`;
  return seconds >= 0 ? `expires in ${text}` : `expired ${text} ago`;
}

function renderRules(report) {
  const body = $('rules');
  body.replaceChildren();
  for (const r of report.rules) {
    const row = document.createElement('tr');
    row.dataset.rule = r.rule;
    row.dataset.outcome = r.outcome;
    const label = { pass: 'passed', fail: 'failed', not_checked: 'not checked' }[r.outcome];
    const cls = { pass: 'pass', fail: 'fail', not_checked: 'skip' }[r.outcome];
    for (const [text, klass] of [[r.rule, ''], [label, cls], [r.kind ? `${r.kind}: ${r.message}` : '', '']]) {
      const cell = document.createElement('td');
      cell.textContent = text;
      if (klass) cell.className = klass;
      row.append(cell);
    }
    body.append(row);
  }
  $('verdict').textContent = report.passed ? 'The token passes every rule.' : 'The token is NOT valid.';
  $('verdict').className = report.passed ? 'pass' : 'fail';
  $('expiry').textContent = report.expires_in === null ? '' : describe(report.expires_in);
}

async function verify() {
  $('status').textContent = '';
  $('status').className = 'status';
  const token = $('token').value.trim();
  if (!token) {
    $('status').textContent = 'Paste a token first.';
    return;
  }
  try {
    const parts = inspect(token);
    show('header', parts.header);
    show('claims', parts.claims);
  } catch (error) {
    show('header', null);
    show('claims', null);
    $('status').textContent = `Not a readable JWT: ${error.kind} (${error.message})`;
    $('status').className = 'status error';
  }
  try {
    const jwks = await loadJwks($('jwks-url').value.trim());
    if (jwks.cached) $('status').textContent += ' Using the cached JWKS (offline).';
    const report = new Verifier(jwks.text).report(token, {
      issuer: $('issuer').value.trim(), audience: $('audience').value.trim(), types: [$('type').value],
    });
    renderRules(report);
    show('key', report.key);
  } catch (error) {
    $('status').textContent = error.kind ? `${error.kind}: ${error.message}` : error.message;
    $('status').className = 'status error';
  }
}

await init();
$('verify').addEventListener('click', verify);
document.body.dataset.ready = 'true';
