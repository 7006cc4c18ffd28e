// The JavaScript half of crates/js/src/split.rs: awaits WebCrypto's own promise and hands its
// answer to the waiting token's one-time `finish`, `undefined` when it rejects (then pure Rust
// decides).
export function settle(promise, finish) {
  return promise.then((valid) => finish(valid), () => finish(undefined));
}
