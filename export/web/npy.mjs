// NumPy's .npy format (version 1-3, little-endian float32 or int32, C order): the export's
// test_data, read by the page (app.js) and by benchmarks/node/latency.mjs.
export function parseNpy(buffer) {
  const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLength = major >= 2 ? view.getUint32(8, true) : view.getUint16(8, true);
  const start = major >= 2 ? 12 : 10;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(",").filter((s) => s.trim()).map(Number);
  if (/'fortran_order':\s*True/.test(header)) throw new Error("Fortran-ordered .npy is not supported");
  const kinds = { "<f4": [Float32Array, "float32"], "<i4": [Int32Array, "int32"] };
  if (!kinds[descr]) throw new Error(`unsupported .npy dtype ${descr}`);
  const [Kind, type] = kinds[descr];
  return { data: new Kind(bytes.slice(start + headerLength).buffer), shape, type };
}
