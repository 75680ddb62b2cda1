// node latency.mjs MODEL.onnx INPUTS.npy REPEATS -> JSON {p50_ms, max_abs_diff?} on stdout.
// One sequence (the first of INPUTS) per call, as the Python runtimes are timed; 1 intra-op thread
// is not forced: ONNX Runtime for Node's default, as a user gets it.
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { parseNpy } from "../../export/web/npy.mjs";

const [model, inputsPath, repeatsText] = process.argv.slice(2);
const inputs = parseNpy(readFileSync(inputsPath));
const session = await ort.InferenceSession.create(model);
const [, ...rest] = inputs.shape;
const size = rest.reduce((a, b) => a * b, 1);
const feeds = { [session.inputNames[0]]: new ort.Tensor(inputs.type, inputs.data.slice(0, size), [1, ...rest]) };
await session.run(feeds);
const times = [];
for (let k = 0; k < Number(repeatsText || 50); k++) {
  const started = process.hrtime.bigint();
  await session.run(feeds);
  times.push(Number(process.hrtime.bigint() - started) / 1e6);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ p50_ms: times[Math.floor(times.length / 2)], version: ort.env.versions?.node ?? null }));
