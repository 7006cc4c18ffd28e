// A reference Worker for bench/worker.mjs: reads one value from KV per request (the key the
// benchmark stores, as a token check reads its record) and answers 200, or 401 when it is
// missing. The most any Worker that reads KV on every request can do in the same setup.
export default {
  async fetch(request, env) {
    const record = await env.KV.get('token:bench', 'arrayBuffer');
    return new Response(null, { status: record ? 200 : 401 });
  },
};
