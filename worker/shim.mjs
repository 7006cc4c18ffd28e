// The JavaScript side of the Worker, hand-written instead of worker-build's generated shim (see
// crates/worker/README.md): it hands each event, with its `env` bindings, to the Rust handlers
// that wasm-bindgen exports, and nothing else.
//
// A Rust panic aborts the wasm instance. The panic hook of workers-rs marks the shared init state
// `criticalError`, and the wasm-bindgen glue (built with --experimental-reset-state-function
// --force-enable-abort-handler) schedules a re-instantiation; `fresh()` makes sure it happens
// before the next event, so one panicking request never breaks the ones after it.

export function entrypoint(wasm) {
  const state = wasm.__worker_init_state();

  function fresh() {
    if (state.criticalError) {
      console.error("portcullis: re-instantiating the wasm module after a panic");
      wasm.__wbg_reset_state();
      state.criticalError = false;
    }
  }

  return {
    async fetch(request, env, ctx) {
      fresh();
      return wasm.fetch(request, env, ctx);
    },
    async scheduled(event, env, ctx) {
      fresh();
      return wasm.scheduled(event, env, ctx);
    },
  };
}
