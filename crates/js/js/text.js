// The JavaScript half of crates/js/src/text.rs.
const encoder = new TextEncoder();

// Writes `text` as UTF-8 into `into` (a view of wasm memory); returns the bytes written.
export function encodeInto(text, into) {
  return encoder.encodeInto(text, into).written;
}
