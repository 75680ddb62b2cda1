// The zoo's exported model, run in the browser by ONNX Runtime Web's WebAssembly backend.
//
// Everything the Python side does to raw inputs is mirrored here, rule for rule: the word
// tokenizer (zoo/text.py: ASCII lower-casing, ASCII punctuation stripped, ASCII-whitespace split),
// g2p's beam search (models/g2p.py Codec.beam_search) and char-lm's step-by-step generation with
// its LSTM state carried (export/generate.py). tests/test_web.py holds the page to Python's outputs.
import * as ort from "./ort/ort.wasm.bundle.min.mjs";
import { parseNpy } from "./npy.mjs";

ort.env.wasm.wasmPaths = new URL("./ort/", import.meta.url).href;
ort.env.wasm.numThreads = 1; // no cross-origin isolation needed; LSTMs are sequential anyway

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

// -- .npy files (test_data) -------------------------------------------------------------------

async function fetchNpy(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return parseNpy(await response.arrayBuffer());
}

// -- running the model --------------------------------------------------------------------------

async function run(session, data, type, dims) {
  const feeds = { [session.inputNames[0]]: new ort.Tensor(type, data, dims) };
  const output = (await session.run(feeds))[session.outputNames[0]];
  return { data: output.data, dims: output.dims };
}

function argmax(values, start = 0, length = values.length) {
  let best = 0;
  for (let k = 1; k < length; k++) if (values[start + k] > values[start + best]) best = k;
  return best;
}

// -- word tokenizer (zoo/text.py) -----------------------------------------------------------------

const PUNCTUATION = new Set("!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'");

function words(text) {
  let cleaned = "";
  for (const char of text) {
    if (PUNCTUATION.has(char)) continue;
    cleaned += char >= "A" && char <= "Z" ? char.toLowerCase() : char;
  }
  return cleaned.split(/[ \t\n\v\f\r]+/).filter((w) => w.length > 0);
}

function encodeWords(text, vocabulary, length) {
  const index = new Map(vocabulary.slice(2).map((word, k) => [word, k + 2])); // 0 padding, 1 unknown
  const ids = new Int32Array(length);
  words(text).slice(0, length).forEach((word, k) => { ids[k] = index.get(word) ?? 1; });
  return ids;
}

// -- text-classifier ------------------------------------------------------------------------------

async function classify(session, data, text) {
  const ids = encodeWords(text, data.vocabulary, data.max_length);
  if (!ids.some((id) => id > 0)) throw new Error("the text has no words (no letter or digit)");
  const { data: probabilities } = await run(session, ids, "int32", [1, data.max_length]);
  const best = argmax(probabilities);
  return { label: data.classes[best], score: probabilities[best] };
}

// -- g2p: beam search (models/g2p.py Codec.beam_search) ---------------------------------------------

function g2pCodec(data) {
  const letters = new Map(data.letters.map((t, k) => [t, k]));
  const phonemes = data.phonemes;
  const start = phonemes.indexOf("<s>");
  const end = phonemes.indexOf("</s>");
  const known = new Set(data.letters.slice(2));
  const inKnownCase = (word) => [word, word.toLowerCase(), word.toUpperCase()].find((w) => [...w].every((c) => known.has(c))) ?? word;
  return { letters, phonemes, start, end, known, inKnownCase, maxLetters: data.max_letters, maxPhonemes: data.max_phonemes };
}

async function beamSearch(session, codec, word, width = 4) {
  const steps = codec.maxPhonemes + 1;
  const phonemeIndex = new Map(codec.phonemes.map((t, k) => [t, k]));
  let beams = [[[], 0]];
  const done = [];
  for (let t = 0; t < steps && beams.length; t++) {
    const rowWidth = codec.maxLetters + t + 1;
    const rows = new Int32Array(beams.length * rowWidth);
    beams.forEach(([prefix], r) => {
      [...word].slice(0, codec.maxLetters).forEach((c, k) => { rows[r * rowWidth + k] = codec.letters.get(c) ?? 1; });
      rows[r * rowWidth + codec.maxLetters] = codec.start;
      prefix.forEach((p, k) => { rows[r * rowWidth + codec.maxLetters + 1 + k] = phonemeIndex.get(p); });
    });
    const { data: out, dims } = await run(session, rows, "int32", [beams.length, rowWidth]);
    const [, positions, classes] = dims;
    const candidates = [];
    beams.forEach(([prefix, score], r) => {
      const offset = (r * positions + t) * classes;
      const logp = Array.from(out.subarray(offset, offset + classes), (p) => Math.log(Math.max(p, 1e-12)));
      const order = logp.map((_, k) => k).sort((a, b) => logp[b] - logp[a]).slice(0, width);
      for (const k of order) {
        if (k === codec.end || t + 1 === steps) done.push([prefix, score + logp[k]]);
        else if (k > codec.end) candidates.push([[...prefix, codec.phonemes[k]], score + logp[k]]);
      }
    });
    const finished = done.map(([, s]) => s).sort((a, b) => b - a).slice(0, width);
    const bar = finished.length === width ? finished[width - 1] : -Infinity;
    beams = candidates.sort((a, b) => b[1] - a[1]).slice(0, width).filter(([, s]) => s > bar);
  }
  return done.sort((a, b) => b[1] - a[1]).slice(0, width).map(([p, s]) => ({ phonemes: p.join(" "), probability: Math.exp(s) }));
}

// -- char-lm: generation with the state carried (export/generate.py) ------------------------------

function seededRandom(seed) { // mulberry32: sampling is reproducible per seed (not NumPy's stream)
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sample(probabilities, temperature, random) {
  if (temperature === 0) return argmax(probabilities);
  const logits = Array.from(probabilities, (p) => Math.log(Math.max(p, 1e-30)) / temperature);
  const top = Math.max(...logits);
  const weights = logits.map((l) => Math.exp(l - top));
  let pick = random() * weights.reduce((a, b) => a + b, 0);
  for (let k = 0; k < weights.length; k++) if ((pick -= weights[k]) <= 0) return k;
  return weights.length - 1;
}

async function generate(step, page, vocabulary, prompt, length, temperature, seed, onText) {
  vocabulary = typeof vocabulary === "string" ? [...vocabulary] : vocabulary; // one character per id
  const index = new Map(vocabulary.map((c, k) => [c, k]));
  const states = {};
  for (const [name, spec] of Object.entries(page.step.states)) states[name] = new ort.Tensor(spec.dtype, new Float32Array(spec.size), [1, ...spec.shape]);
  const feed = async (token) => {
    const result = await step.run({ [page.step.input]: new ort.Tensor("int32", Int32Array.from([token]), [1]), ...states });
    for (const name of Object.keys(states)) states[name] = result[name + "_out"];
    return result[page.step.output].data;
  };
  let probabilities;
  for (const char of prompt || "\n") probabilities = await feed(index.get(char) ?? 0);
  const random = seededRandom(seed);
  let text = prompt;
  for (let k = 0; k < length; k++) {
    const token = sample(probabilities, temperature, random);
    text += vocabulary[token];
    if (onText) onText(text);
    probabilities = await feed(token);
  }
  return text;
}

// -- forecaster: the forecast over the test tail -------------------------------------------------

function plotForecast(canvas, inputs, forecasts, horizon) {
  const [count, steps, features] = inputs.shape;
  // Consecutive test windows: the series is the first window, then each later window's last value.
  const series = [];
  for (let t = 0; t < steps; t++) series.push(inputs.data[t * features]);
  for (let w = 1; w < count; w++) series.push(inputs.data[(w * steps + steps - 1) * features]);
  const predicted = [];
  for (let w = 0; w < count; w++) predicted.push([steps + w, forecasts[w * horizon]]);
  const values = [...series, ...predicted.map(([, v]) => v)];
  const low = Math.min(...values), high = Math.max(...values);
  const context = canvas.getContext("2d");
  const x = (t) => 10 + (t / (steps + count)) * (canvas.width - 20);
  const y = (v) => canvas.height - 10 - ((v - low) / (high - low || 1)) * (canvas.height - 20);
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.lineWidth = 2;
  context.strokeStyle = "#8a93a6";
  context.beginPath();
  series.forEach((v, t) => (t ? context.lineTo(x(t), y(v)) : context.moveTo(x(t), y(v))));
  context.stroke();
  context.strokeStyle = "#2563eb";
  context.beginPath();
  predicted.forEach(([t, v], k) => (k ? context.lineTo(x(t), y(v)) : context.moveTo(x(t), y(v))));
  context.stroke();
  context.fillStyle = "#1d2330";
  context.fillText("grey: the test series   blue: one-step-ahead forecasts", 14, 16);
}

// -- the page --------------------------------------------------------------------------------------

function panel(html) { $("panel").innerHTML = html; }

async function selfCheck(session) {
  const inputs = await fetchNpy("test_data/inputs.npy");
  const expected = await fetchNpy("test_data/expected.npy");
  const started = performance.now();
  const output = await run(session, inputs.data, inputs.type, inputs.shape);
  const milliseconds = performance.now() - started;
  let diff = 0;
  for (let k = 0; k < expected.data.length; k++) diff = Math.max(diff, Math.abs(output.data[k] - expected.data[k]));
  const sameShape = output.dims.join() === expected.shape.join();
  return { inputs, output, maxAbsDiff: diff, sameShape, milliseconds, shape: output.dims };
}

async function latency(session, inputs, repeats = 20) {
  const [, ...rest] = inputs.shape;
  const size = rest.reduce((a, b) => a * b, 1);
  const one = inputs.data.slice(0, size);
  await run(session, one, inputs.type, [1, ...rest]);
  const times = [];
  for (let k = 0; k < repeats; k++) {
    const started = performance.now();
    await run(session, one, inputs.type, [1, ...rest]);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function main() {
  const deployment = await (await fetch("deployment.json")).json();
  const page = await (await fetch("page.json")).json();
  const name = deployment["zoo.model"];
  const data = deployment["zoo.data"] || {};
  $("title").textContent = `${name} in the browser`;
  const input = deployment["zoo.input"] || {};
  const described = `${input.dtype} (${(input.shape || []).join(", ")})${input.meaning ? ", " + input.meaning : ""}`;
  $("facts").textContent = `cells: ${deployment["zoo.cells"]} · input: ${described} · ONNX Runtime Web ${ort.env.versions?.web ?? ""} (WebAssembly, 1 thread)`;
  const session = await ort.InferenceSession.create("model.onnx", { executionProviders: ["wasm"] });
  const step = page.step ? await ort.InferenceSession.create(page.step.file, { executionProviders: ["wasm"] }) : null;
  $("status").textContent = "Ready: the model runs entirely in this page.";
  const results = { model: name };

  const check = await selfCheck(session);
  results.maxAbsDiff = check.maxAbsDiff;
  results.sameShape = check.sameShape;
  results.batchMs = check.milliseconds;
  results.p50Ms = await latency(session, check.inputs, Number(params.get("repeats") ?? 20));
  // A screenshot is taken under Chromium's virtual time, where the clock does not move: no timings then.
  const timings = params.has("screenshot") ? "" : `; batch ${check.milliseconds.toFixed(1)} ms, one sequence p50 ${results.p50Ms.toFixed(2)} ms`;
  $("selfcheck").textContent = `${check.inputs.shape[0]} test inputs: output ${check.shape.join("×")}, ` +
    `max |browser − Keras| = ${check.maxAbsDiff.toExponential(2)}${timings}`;

  if (name === "text-classifier") {
    panel(`<p>Paste English news text:</p><textarea id="text">${params.get("text") ?? "The striker scored twice as the club won the cup final at Wembley."}</textarea>
      <button id="go">Classify</button><pre id="out"></pre>`);
    const go = async () => {
      try { const r = await classify(session, data, $("text").value); $("out").textContent = `${r.label}\t${r.score.toFixed(3)}`; results.classified = r; }
      catch (error) { $("out").textContent = `error: ${error.message}`; }
    };
    $("go").onclick = go;
    await go();
  } else if (name === "g2p") {
    const codec = g2pCodec(data);
    panel(`<p>Type an English word:</p><input type="text" id="word" value="${params.get("word") ?? "zoology"}">
      <button id="go">Pronounce</button><pre id="out"></pre>`);
    const go = async () => {
      const word = codec.inKnownCase($("word").value.trim());
      if (!word || [...word].some((c) => !codec.known.has(c)) || word.length > codec.maxLetters) {
        $("out").textContent = `error: spellings of 1 to ${codec.maxLetters} letters from: ${[...codec.known].join("")}`;
        return;
      }
      const hyps = await beamSearch(session, codec, word, 4);
      results.pronunciations = hyps.slice(0, 3);
      $("out").textContent = `${word}\t` + hyps.slice(0, 3).map((h) => `${h.phonemes} (${h.probability.toFixed(2)})`).join("\t");
    };
    $("go").onclick = go;
    await go();
  } else if (name === "char-lm") {
    panel(`<div class="row"><label>Prompt <input type="text" id="prompt" value="${params.get("prompt") ?? "ROMEO:"}"></label>
      <label>temperature <input type="number" id="temperature" value="${params.get("temperature") ?? 0.8}" step="0.1" min="0" style="width:5rem"></label></div>
      <button id="go">Generate</button><pre id="out"></pre>`);
    const go = async () => {
      const length = Number(params.get("length") ?? 200);
      const text = await generate(step, page, data.vocabulary, $("prompt").value, length, Number($("temperature").value), 0,
        (t) => { $("out").textContent = t; });
      results.generated = text;
    };
    $("go").onclick = go;
    await go();
  } else if (name === "forecaster") {
    panel(`<p>The forecaster on its test tail (sunspots by default), computed in this page:</p><canvas id="plot" width="800" height="280"></canvas>`);
    plotForecast($("plot"), check.inputs, check.output.data, data.horizon || 1);
    results.plotted = check.inputs.shape[0];
  } else {
    panel(`<p>${name}: its outputs on the export's test inputs are checked below; feed your own arrays shaped as its input (${described}).</p>`);
  }

  $("status").textContent = "Done: every number on this page was computed in the browser.";
  document.body.dataset.done = "1";
  if (params.has("report")) await fetch(params.get("report"), { method: "POST", body: JSON.stringify(results) });
}

main().catch(async (error) => {
  $("status").textContent = `error: ${error.message}`;
  document.body.dataset.done = "1";
  if (params.has("report")) await fetch(params.get("report"), { method: "POST", body: JSON.stringify({ error: String(error.stack || error) }) });
});
