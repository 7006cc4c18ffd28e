// The races (tests/races/races.mjs) on the Worker on local workerd (scripts/worker-build.sh
// --test): one Worker refusing sessions over the per-user limit, which also takes the refresh,
// child-token and lock races, and one evicting the oldest. Each has its own local KV and D1;
// requests interleave inside workerd, and the invariants rest on D1's conditional writes.
import { after } from "node:test";

import { queryD1, startWorker } from "../worker/harness.mjs";
import { raceParams, raceSettings, raceSuite } from "./races.mjs";

const params = raceParams();
const started = await Promise.allSettled([
  startWorker({ vars: raceSettings(params, "refuse") }),
  startWorker({ vars: raceSettings(params, "evict_oldest") }),
]);
const failed = started.find((s) => s.status === "rejected");
if (failed) {
  // Stop the one that did start before failing.
  await Promise.all(started.filter((s) => s.status === "fulfilled").map((s) => s.value.stop()));
  throw failed.reason;
}
const [refuse, evict] = started.map((s) => s.value);
after(() => Promise.all([refuse.stop(), evict.stop()]));
console.log(`# races: the Worker on local workerd: ${JSON.stringify(params)}`);

const d1 = (worker) => async (query) => queryD1(worker.state, query).map((row) => Object.values(row).map(String));

raceSuite({
  label: "Worker (workerd, refuse)",
  urls: [refuse.baseUrl],
  limitUrls: { refuse: [refuse.baseUrl] },
  bootstrapToken: refuse.bootstrapToken,
  ...params,
  sql: d1(refuse),
});
raceSuite({
  label: "Worker (workerd, evict_oldest)",
  urls: [],
  limitUrls: { evict_oldest: [evict.baseUrl] },
  bootstrapToken: evict.bootstrapToken,
  ...params,
  sql: d1(evict),
});
