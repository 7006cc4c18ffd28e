// Entry of the Worker that `npm start` serves (scripts/worker-build.sh writes the bundle).
import * as wasm from "../target/worker-bundle/release/index.js";
import { entrypoint } from "./shim.mjs";

export default entrypoint(wasm);
