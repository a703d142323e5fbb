// Shared by the tests: where the built package and the demo module are (ctest passes them in
// the environment; the defaults fit a build in <repo>/build).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..', '..');
export const packageDir = process.env.WMD_NODE_PACKAGE ?? path.join(repo, 'build', 'node', 'wmd');
export const lifeWasmPath = process.env.WMD_LIFE_WASM ?? path.join(repo, 'build', 'wasm', 'life.wasm');
export const binDir = process.env.WMD_BIN_DIR ?? path.join(repo, 'build', 'bin');

export const wmd = createRequire(import.meta.url)(packageDir);

export { rng } from './rng.mjs';
export { freePort } from './free_port.mjs';

export async function instantiateLife(memory) {
  const module = await WebAssembly.compile(readFileSync(lifeWasmPath));
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  return instance.exports;
}

// The module's import declares 3 initial and 256 maximum 64 KiB pages.
export function lifeMemory() {
  return new WebAssembly.Memory({ initial: 3, maximum: 256 });
}

// Polls predicate every intervalMs until it holds; throws naming `what` after timeoutMs.
export async function until(what, predicate, timeoutMs = 10000, intervalMs = 10) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
