// Starts Workers on Miniflare's workerd directly (no `wrangler dev` proxy in front): each Worker
// in a workerd process of its own, listening on a loopback port, its KV and D1 kept in a
// temporary directory (the same local KV and D1 simulators `wrangler dev --local` uses).
// Used by bench/worker.mjs; every wait is bounded, `stop()` disposes workerd and the directory.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { freePort } from '../tests/worker/harness.mjs';

const root = resolve(import.meta.dirname, '..');
const COMPATIBILITY_DATE = '2026-04-20';

/** One ES module of `entry` (source text) with its imports bundled; `./index_bg.wasm` stays a module of its own. */
export async function bundle(entry, resolveDir = root) {
  const out = await build({
    stdin: { contents: entry, resolveDir, sourcefile: 'bench-entry.mjs' },
    bundle: true, format: 'esm', write: false, platform: 'neutral', conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'], external: ['./index_bg.wasm', 'cloudflare:*', 'node:*'], logLevel: 'error',
  });
  return out.outputFiles[0].text;
}

/** The D1 migrations of migrations/, as statements for `D1Database.exec` (one statement a line). */
export function migrations() {
  return readdirSync(join(root, 'migrations')).filter((f) => f.endsWith('.sql')).sort()
    .map((f) => readFileSync(join(root, 'migrations', f), 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('--')).join('\n'));
}

/**
 * A Worker on its own workerd: `options(baseUrl)` gives the Miniflare worker options (modules,
 * bindings, KV and D1). Returns `{ baseUrl, mf, stop }`.
 */
export async function startDirect(name, options) {
  const dir = mkdtempSync(join(tmpdir(), `portcullis-${name}-workerd-`));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const mf = new Miniflare({
    ...options(baseUrl), name, compatibilityDate: COMPATIBILITY_DATE, host: '127.0.0.1', port, defaultPersistRoot: dir,
  });
  const stop = async () => {
    await mf.dispose().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([mf.ready, new Promise((_, fail) => setTimeout(() => fail(new Error(`${name}: workerd not ready in 60 s`)), 60_000))]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { baseUrl, mf, stop };
}

/** The `[vars]` of wrangler.toml (`NAME = "value"` lines), as `wrangler dev` binds them. */
export function wranglerVars() {
  const lines = readFileSync(join(root, 'wrangler.toml'), 'utf8').split('\n');
  const vars = {};
  for (const line of lines.slice(lines.indexOf('[vars]') + 1)) {
    if (line.startsWith('[')) break;
    const m = /^([A-Z0-9_]+)\s*=\s*"([^"]*)"/.exec(line);
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

/**
 * Our Worker bundle (`bundleDir`, as scripts/worker-build.sh writes it) on its own workerd, with
 * KV, D1 (migrated), the vars of wrangler.toml (then `vars`) and fresh development secrets, as
 * `npm run start:worker` runs it. Returns `{ baseUrl, bootstrapToken, stop }`.
 */
export async function startOurs(bundleDir, vars = {}, name = 'ours') {
  const script = await bundle(`
import * as wasm from '${resolve(bundleDir)}/index.js';
import { entrypoint } from '${join(root, 'worker/shim.mjs')}';
export default entrypoint(wasm);`);
  const bootstrapToken = `pc-${randomBytes(16).toString('base64url')}.${randomBytes(16).toString('base64url')}`;
  const worker = await startDirect(name, () => ({
    modules: [
      { type: 'ESModule', path: 'worker.mjs', contents: script },
      { type: 'CompiledWasm', path: 'index_bg.wasm', contents: readFileSync(join(bundleDir, 'index_bg.wasm')) },
    ],
    kvNamespaces: ['KV'], d1Databases: ['DB'],
    bindings: {
      ...wranglerVars(),
      ...vars,
      PORTCULLIS_ENCRYPTION_KEYS: `dev1:${randomBytes(32).toString('base64')}`,
      PORTCULLIS_BOOTSTRAP_TOKEN: bootstrapToken,
      PORTCULLIS_KNOWN_SCOPES: 'read:all,read:image,exec:notebook,write:files',
    },
  }));
  try {
    const db = await worker.mf.getD1Database('DB');
    for (const sql of migrations()) await db.exec(sql);
  } catch (error) {
    await worker.stop();
    throw error;
  }
  return { ...worker, bootstrapToken };
}
