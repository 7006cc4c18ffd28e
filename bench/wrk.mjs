// One bounded wrk run (one thread, `connections` connections, `seconds` long) and its figures:
// requests/s, requests in all, p50 and p99 latency in ms, and how many answers were not 2xx/3xx. `script`: a wrk
// Lua script (`-s`), `env`: its environment.
// Asynchronous, so the calling process keeps draining its servers' output meanwhile.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export async function wrk(url, connections, seconds, headers = [], { script, env } = {}) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '5s'];
  for (const h of headers) args.push('-H', h);
  if (script) args.push('-s', script);
  const options = { encoding: 'utf8', timeout: (seconds + 30) * 1000, env: { ...process.env, ...env } };
  const { stdout: out } = await promisify(execFile)('wrk', [...args, url], options);
  const ms = (label) => {
    const m = new RegExp(`^\\s*${label}%\\s+([0-9.]+)(us|ms|s)`, 'm').exec(out);
    return m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : null;
  };
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([0-9.]+)/.exec(out)[1]),
    requests: Number(/(\d+) requests in/.exec(out)[1]),
    p50_ms: ms('50'), p99_ms: ms('99'),
    errors: non2xx ? Number(non2xx[1]) : 0,
  };
}

// The median of `key` over the results of several rounds of the same run.
export function median(runs, key) {
  return runs.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
}
