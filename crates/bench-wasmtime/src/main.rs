//! `jwt-wasmtime`: times the core's `Validator::verify` on the benchmark cases and prints one
//! JSON line per algorithm. Built for `wasm32-wasip2` and run inside wasmtime by
//! `scripts/bench.sh` (`crates/host/examples/run-command.rs`); it runs natively too.

use std::hint::black_box;

use portcullis::jwt::Validator;
use portcullis_bench_wasmtime::{cases, measure, options, NOW};

fn main() {
    let options = options();
    for case in cases() {
        let validator = Validator::new(&case.keys, options.clone());
        let ops = measure(|| validator.verify(black_box(&case.token), NOW).is_ok());
        let runtime = if cfg!(target_arch = "wasm32") { "wasmtime" } else { "native" };
        println!(
            "{}",
            serde_json::json!({"bench": "jwt-wasmtime", "alg": case.alg.name(), "runtime": runtime, "ours_ops": ops.round()})
        );
    }
}
