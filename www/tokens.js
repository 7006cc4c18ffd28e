// The token manager: a thin client of the HTTP API. The credential lives in sessionStorage
// (this tab only) and is sent as a bearer token; nothing is validated here.
const $ = (id) => document.getElementById(id);
const API = '/auth/api/v1';
const KEY = 'portcullis.credential';
let me = null;

class ApiError extends Error {
  constructor(status, type, msg) {
    super(msg);
    this.status = status;
    this.type = type;
  }
}

async function api(method, path, body) {
  const credential = sessionStorage.getItem(KEY);
  const headers = { Authorization: `Bearer ${credential}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${API}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = data?.detail?.[0] ?? {};
    throw new ApiError(response.status, detail.type ?? 'error', detail.msg ?? `HTTP ${response.status}`);
  }
  return data;
}

/** A message a person can act on, for every error the API returns. */
function explain(error) {
  if (!(error instanceof ApiError)) return `The server could not be reached (${error.message}).`;
  const hints = {
    401: 'Your token is not valid (expired, revoked or mistyped). Sign in again.',
    403: 'Your token is not allowed to do this (it lacks a scope such as user:token).',
    404: 'That token no longer exists.',
    409: 'That conflicts with the current state; reload and try again.',
    413: 'The request is too large.',
    503: 'Storage is unavailable right now; try again shortly.',
  };
  const hint = hints[error.status] ?? '';
  return `${error.message} [${error.type}, HTTP ${error.status}] ${hint}`.trim();
}

function status(message, kind = 'error') {
  $('status').textContent = message;
  $('status').className = `status ${kind}`;
}

const when = (t) => (t ? new Date(t * 1000).toLocaleString() : '—');

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text ?? '—';
  row.append(td);
  return td;
}

async function refresh() {
  const tokens = await api('GET', `/users/${encodeURIComponent(me.username)}/tokens`);
  const body = $('tokens');
  body.replaceChildren();
  for (const t of tokens) {
    const row = document.createElement('tr');
    row.dataset.key = t.token;
    cell(row, t.token_name ?? t.token);
    cell(row, t.token_type);
    cell(row, t.scopes.join(', ') || '—');
    cell(row, when(t.created));
    cell(row, when(t.last_used));
    cell(row, t.expires ? when(t.expires) : 'never');
    cell(row, t.parent ?? '—');
    const actions = cell(row, '');
    const revoke = document.createElement('button');
    revoke.type = 'button';
    revoke.className = 'danger';
    revoke.textContent = 'Revoke';
    revoke.setAttribute('aria-label', `Revoke ${t.token_name ?? t.token}`);
    revoke.addEventListener('click', () => revokeToken(t));
    actions.append(revoke);
    body.append(row);
  }
  const history = await api('GET', `/users/${encodeURIComponent(me.username)}/token-change-history?limit=50`);
  const hbody = $('history');
  hbody.replaceChildren();
  for (const h of history) {
    const row = document.createElement('tr');
    row.dataset.action = h.action;
    cell(row, when(h.event_time));
    cell(row, h.action);
    cell(row, h.token_name ?? h.token);
    cell(row, h.token_type);
    cell(row, h.actor);
    cell(row, h.ip_address);
    hbody.append(row);
  }
}

async function revokeToken(t) {
  if (!confirm(`Revoke ${t.token_name ?? t.token}? Tokens made from it are revoked too.`)) return;
  try {
    await api('DELETE', `/users/${encodeURIComponent(me.username)}/tokens/${t.token}`);
    status(`Revoked ${t.token_name ?? t.token}.`, 'notice');
    if (t.token === me.key) return signOut('You revoked the token you signed in with.');
    await refresh();
  } catch (error) {
    status(explain(error));
  }
}

async function signIn(event) {
  event?.preventDefault();
  const value = $('credential').value.trim();
  if (value) sessionStorage.setItem(KEY, value);
  if (!sessionStorage.getItem(KEY)) return;
  try {
    const info = await api('GET', '/token-info');
    const user = await api('GET', '/user-info');
    me = { username: user.username, key: info.token };
    $('whoami').textContent = `Signed in as ${user.username}${user.email ? ` <${user.email}>` : ''} with a ${info.token_type} token (scopes: ${info.scopes.join(', ') || 'none'}).`;
    $('credential').value = '';
    $('signed-in').hidden = false;
    $('signout').hidden = false;
    status('', '');
    await refresh();
  } catch (error) {
    signOut();
    status(explain(error));
  }
}

function signOut(message) {
  sessionStorage.removeItem(KEY);
  me = null;
  $('signed-in').hidden = true;
  $('signout').hidden = true;
  $('whoami').textContent = message ?? '';
}

async function create(event) {
  event.preventDefault();
  const scopes = $('scopes').value.split(',').map((s) => s.trim()).filter(Boolean);
  const expires = $('expires').value ? Math.floor(new Date($('expires').value).getTime() / 1000) : null;
  try {
    const made = await api('POST', `/users/${encodeURIComponent(me.username)}/tokens`, { token_name: $('name').value.trim(), scopes, expires });
    $('new-token-value').textContent = made.token;
    $('new-token').hidden = false;
    $('create-form').reset();
    status('Token created.', 'notice');
    await refresh();
  } catch (error) {
    status(explain(error));
  }
}

$('signin-form').addEventListener('submit', signIn);
$('signout').addEventListener('click', () => signOut('Signed out.'));
$('create-form').addEventListener('submit', create);
$('copy').addEventListener('click', async () => {
  await navigator.clipboard.writeText($('new-token-value').textContent);
  status('Copied to the clipboard.', 'notice');
});
await signIn();
document.body.dataset.ready = 'true';
