// Shared by the wmd-wasm tests: where the built package and the native helper are (ctest passes
// them in the environment; the defaults fit a build in <repo>/build).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '..', '..', '..');
export const packageDir = process.env.WMD_WASM_PACKAGE ?? path.join(repo, 'build', 'web', 'wmd-wasm');
export const nativeReplicaPath = process.env.WMD_NATIVE_REPLICA ?? path.join(repo, 'build', 'bin', 'wmd-native-replica');
export const wmdWasm = await import(path.join(packageDir, 'wmd_wasm.mjs'));

export { rng } from '../../node/test/rng.mjs';

export function toHex(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

export function fromHex(text) {
  return new Uint8Array(Buffer.from(text, 'hex'));
}
