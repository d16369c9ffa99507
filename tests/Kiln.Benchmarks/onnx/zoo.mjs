// The ONNX Runtime side of the zoo benchmark: a worker for tests/Kiln.Benchmarks/zoo-vs-pytorch.sh.
//   node zoo.mjs DIR      reads one JSON command per line on stdin, answers one JSON line on stdout:
//                         {"model": "Z1", "mode": "infer"|"infer1", "iterations": N} -> {"us": [per-iteration µs...]}
// DIR holds <model>.onnx, exported from the PyTorch definitions (pytorch/zoo.py --export). The thread count is fixed
// per process (KILN_THREADS: intra-op threads; one inter-op thread, sequential execution, all graph optimizations).
// Timing goes through the Node binding's asynchronous run(), whose own cost is part of every figure.
import { createInterface } from "node:readline";
import path from "node:path";
import ort from "onnxruntime-node";

const directory = process.argv[2];
const threads = Number(process.env.KILN_THREADS ?? "1");
const zoo = { Z1: { batch: 64, shape: [784] }, Z2: { batch: 32, shape: [3, 32, 32] } };
const sessions = new Map();
const inputs = new Map();

async function session(model) {
  if (!sessions.has(model)) {
    sessions.set(model, await ort.InferenceSession.create(path.join(directory, `${model}.onnx`), {
      intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all",
    }));
  }
  return sessions.get(model);
}

function input(model, rows) {
  const key = `${model}/${rows}`;
  if (!inputs.has(key)) {
    const { shape } = zoo[model];
    const width = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(rows * width);
    let state = 12345;
    for (let i = 0; i < data.length; i++) { state = (state * 1103515245 + 12345) >>> 0; data[i] = state / 4294967296; }
    inputs.set(key, { input: new ort.Tensor("float32", data, [rows, ...shape]) });
  }
  return inputs.get(key);
}

console.log(JSON.stringify({ ready: true, onnxruntime: ort.env.versions?.common ?? "unknown", threads }));
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const command = JSON.parse(line);
  if (!zoo[command.model]) { console.log(JSON.stringify({ us: [] })); continue; } // not exported: no ONNX Runtime figure
  const s = await session(command.model);
  const feeds = input(command.model, command.mode === "infer1" ? 1 : zoo[command.model].batch);
  await s.run(feeds);
  const us = [];
  for (let i = 0; i < command.iterations; i++) {
    const start = process.hrtime.bigint();
    await s.run(feeds);
    us.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  console.log(JSON.stringify({ us }));
}
