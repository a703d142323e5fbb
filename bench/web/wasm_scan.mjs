// Scan speed of the WebAssembly engine (wmd-wasm) beside the native engine (the `wmd` addon's
// distributor: the same engine compiled natively, hashing the memory in place), in one process,
// on the same WebAssembly.Memory contents: a clean scan (nothing changed) and a scan with a few
// dirty pages. The wasm scan copies the memory into the engine's own memory first (no
// multi-memory in Node 20); that copy is measured alone too.
//
//   node bench/web/wasm_scan.mjs [--build build]     WMD_BENCH_QUICK=1: 16 MiB
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({ options: { build: { type: 'string', default: 'build' } } });
const build = path.resolve(opt.build);
const sizeBytes = (process.env.WMD_BENCH_QUICK ? 16 : 64) * 1024 * 1024;
const rounds = process.env.WMD_BENCH_QUICK ? 7 : 15;
const dirtyPages = 8;

const wasm = await import(path.join(build, 'web', 'wmd-wasm', 'wmd_wasm.mjs'));
let native = null;
try {
  native = createRequire(import.meta.url)(path.join(build, 'node', 'wmd'));
} catch (error) {
  console.log(`(native addon not available: ${error.message.split('\n')[0]})`);
}

function memoryWithData() {
  const memory = new WebAssembly.Memory({ initial: sizeBytes / 65536, maximum: sizeBytes / 65536 });
  const view = new Uint32Array(memory.buffer);
  let x = 12345;
  for (let i = 0; i < view.length; ++i) {
    x = (x * 1103515245 + 12345) >>> 0;
    view[i] = x | 0x01010101;  // no zero byte: each page absorbs as one version run
  }
  return memory;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

// Median seconds of one call of fn over `rounds`, after `prepare` each time (not timed).
function time(fn, prepare = () => {}) {
  const samples = [];
  for (let i = 0; i < rounds; ++i) {
    prepare(i);
    const start = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  return median(samples);
}

function measure(create) {
  const memory = memoryWithData();
  const d = create(memory);
  d.scan();  // absorbs the initial contents
  const bytes = new Uint8Array(memory.buffer);
  const clean = time(() => d.scan());
  const dirty = time(() => d.scan(), (round) => {
    for (let p = 0; p < dirtyPages; ++p) bytes[((p * 7919 + round * 131) % (sizeBytes / 8192)) * 8192 + 100] ^= 0xff;
  });
  d.destroy();
  return { clean, dirty };
}

const gbps = (seconds) => (sizeBytes / seconds / 1e9).toFixed(1);
const options = { scanInterval: 0, maxSize: sizeBytes };
const w = measure((memory) => wasm.createMemoryDistributor(memory, 'bench', options));
const n = native ? measure((memory) => native.createMemoryDistributor(memory, 'bench', options)) : null;
const copyMemory = memoryWithData();
const copyTarget = new Uint8Array(sizeBytes);
const copy = time(() => copyTarget.set(new Uint8Array(copyMemory.buffer)));

console.log(`wasm engine scan, ${sizeBytes >> 20} MiB WebAssembly.Memory (median of ${rounds}; baseline: the native engine in the same process)`);
console.log('| scan | wasm GB/s | native GB/s | wasm / native |');
console.log('| --- | --- | --- | --- |');
for (const [label, key] of [['clean (nothing changed)', 'clean'], [`${dirtyPages} dirty pages`, 'dirty']]) {
  const ratio = n ? (n[key] / w[key]).toFixed(2) : 'n/a';
  console.log(`| ${label} | ${gbps(w[key])} | ${n ? gbps(n[key]) : 'n/a'} | ${ratio} |`);
}
console.log(`| the copy into the engine's memory alone (Uint8Array.set) | ${gbps(copy)} | | |`);
console.log('(no target; the wasm engine hashes scalar XXH3, without SIMD, and copies the memory in first)');
