// Servers the benchmarks start (`portcullis serve`, bare hyper), each on a loopback port it
// prints, and all stopped when the benchmark exits.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGTERM')));

// The server's output goes to a file (not a pipe this process must drain: it logs every request).
export function start(cmd, args, env = {}, log) {
  const fd = openSync(log, 'w');
  const child = spawn(cmd, args, { env: { ...cleanEnv(), ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  children.push(child);
  return new Promise((ok, fail) => {
    const started = Date.now();
    const poll = setInterval(() => {
      const m = /listening on (http:\/\/[0-9.:]+)/.exec(readFileSync(log, 'utf8').slice(0, 100_000));
      if (m) { clearInterval(poll); ok({ child, url: m[1] }); }
      else if (Date.now() - started > 120_000) { clearInterval(poll); fail(new Error(`${cmd} did not start in 120 s`)); }
    }, 100);
    child.on('exit', (code) => { clearInterval(poll); fail(new Error(`${cmd} exited ${code}: ${readFileSync(log, 'utf8').slice(-2000)}`)); });
  });
}

export function cleanEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PORTCULLIS_')));
}

export function stop(child) {
  child.removeAllListeners('exit');
  child.kill('SIGTERM');
}


// `portcullis serve` as `npm start` builds it (cargo profile `host`) on `dataDir` (by default SQLite + embedded KV there;
// `options.sql` / `options.kv`: PostgreSQL and Redis URLs; `options.args`: more `serve` flags), its
// compiled component cached in `cacheDir`; `/auth?scope=read:all` is the measured call.
export function startServe(target, dataDir, cacheDir, log, options = {}) {
  const component = join(target, 'wasm32-wasip2/release/portcullis_component.wasm');
  const args = ['serve', '--listen', '127.0.0.1:0', '--data', dataDir, '--component', component];
  if (options.sql) args.push('--sql', options.sql);
  if (options.kv) args.push('--kv', options.kv);
  args.push(...(options.args ?? []));
  return start(join(target, 'host/portcullis'), args,
    { PORTCULLIS_HOST_CACHE_DIR: cacheDir, PORTCULLIS_KNOWN_SCOPES: 'read:all' }, log);
}
