// The baseline Worker for bench/worker.mjs: answers every request with an empty 200.
export default {
  fetch() {
    return new Response(null, { status: 200 });
  },
};
