// Entry of the test build (with the `test-hooks` routes), which only scripts/worker-test.sh serves.
import * as wasm from "../target/worker-bundle/test/index.js";
import { entrypoint } from "./shim.mjs";

export default entrypoint(wasm);
