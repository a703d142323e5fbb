// The WebAssembly engine is byte-compatible with the native one: the same script of writes,
// scans, received frames, growth, digests, page exports and a hello gives the same frames, byte
// for byte, from wmd-wasm and from native engines (wmd-native-replica, the engine and codec
// as wmdd links them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

import { fromHex, nativeReplicaPath, rng, toHex, wmdWasm } from './helpers.mjs';

const kPageSize = 8192;
const kMaxSize = 4 * 1024 * 1024;
const kInitialSize = 128 * 1024;

// Runs commands on wasm replicas as wmd-native-replica would, recording the script and the
// transcript it prints.
class WasmSide {
  constructor() {
    this.replicas = new Map();
    this.script = [];
    this.transcript = [];
  }

  replica(name) {
    if (!this.replicas.has(name)) {
      const memory = new WebAssembly.Memory({ initial: kInitialSize / 65536, maximum: kMaxSize / 65536 });
      const d = wmdWasm.createMemoryDistributor(memory, name, { pageSize: kPageSize, maxSize: kMaxSize, scanInterval: 0 });
      d.onDiff((patch) => this.print(name, 'patch', wmdWasm.encodeFrame({ type: 'patch', ...patch })));
      this.replicas.set(name, { memory, d });
    }
    return this.replicas.get(name);
  }

  print(name, what, bytes) {
    this.transcript.push(`${name} ${what} ${toHex(bytes)}`);
  }

  run(name, command, ...args) {
    this.script.push([name, command, ...args].join(' '));
    const { memory, d } = this.replica(name);
    const catchError = (call) => {
      try {
        call();
      } catch (error) {
        if (!error.code?.startsWith('ERR_WMD')) throw error;
        this.transcript.push(`${name} error ${error.code}`);
      }
    };
    switch (command) {
      case 'write':
        new Uint8Array(memory.buffer).set(fromHex(args[1]), args[0]);
        break;
      case 'grow':
        catchError(() => d.resizeMemory(args[0]));
        break;
      case 'scan':
        d.scan();
        break;
      case 'receive':
        catchError(() => d.receiveFrame(fromHex(args[0])));
        break;
      case 'digests':
        this.print(name, 'digests', wmdWasm.encodeFrame({ type: 'digests', size: d.size, last: true, digests: d.digests() }));
        break;
      case 'export':
        catchError(() => {
          const state = d.exportPage(args[0]);
          this.print(name, 'state', wmdWasm.encodeFrame({ type: 'pageStates', pages: [state] }));
        });
        break;
      case 'hello':
        this.print(name, 'hello', wmdWasm.encodeFrame(d.hello('compat')));
        break;
      case 'memory':
        this.print(name, 'memory', new Uint8Array(memory.buffer, 0, d.size));
        break;
      default:
        throw new Error(`unknown command ${command}`);
    }
  }

  // The frames the last command printed for `name` of kind `what`.
  framesSince(mark, what) {
    return this.transcript.slice(mark).filter((l) => l.split(' ')[1] === what).map((l) => l.split(' ')[2]);
  }
}

function randomBytes(next, n) {
  return toHex(Uint8Array.from({ length: n }, () => next() & 0xff));
}

test('wasm and native engines produce the same frames for the same script', () => {
  const seed = Number(process.env.WMD_TEST_SEED ?? 0x5eedc0de);
  const next = rng(seed);
  const side = new WasmSide();
  const names = ['A', 'B', 'C'];
  for (const name of names) side.run(name, 'hello');
  for (let round = 0; round < 12; ++round) {
    const produced = new Map();
    for (const name of names) {
      const size = side.replica(name).d.size;
      for (let k = next() % 6; k > 0; --k) {
        const length = 1 + (next() % 40);
        // Writes concentrate on the first pages so that replicas write the same pages.
        const offset = next() % 4 === 0 ? next() % (size - length) : next() % (3 * kPageSize);
        side.run(name, 'write', offset, randomBytes(next, length));
      }
      const mark = side.transcript.length;
      side.run(name, 'scan');
      produced.set(name, side.framesSince(mark, 'patch'));
    }
    if (round === 5) side.run('B', 'grow', 4 * 65536);
    // Deliver most frames, to everyone but the origin; some are lost (catch-up below).
    for (const [from, frames] of produced) {
      for (const frame of frames) {
        for (const to of names) if (to !== from && next() % 4 !== 0) side.run(to, 'receive', frame);
      }
    }
  }
  // Catch-up: every page where digests differ, exported and merged both ways.
  for (const name of names) side.run(name, 'digests');
  for (const from of names) {
    for (const to of names) {
      if (from === to) continue;
      for (let page = 0; page < side.replica(from).d.size / kPageSize; ++page) {
        const mark = side.transcript.length;
        side.run(from, 'export', page);
        for (const frame of side.framesSince(mark, 'state')) side.run(to, 'receive', frame);
      }
    }
  }
  for (const name of names) {
    side.run(name, 'digests');
    side.run(name, 'hello');
    side.run(name, 'memory');
  }
  side.run('A', 'receive', '0100000002');  // a truncated patch: both refuse it alike

  const native = execFileSync(nativeReplicaPath, { input: side.script.join('\n') + '\n', maxBuffer: 1 << 28 })
    .toString().trim().split('\n');
  const wasm = side.transcript.map((l) => l.replace(/ error ERR_WMD_\w+$/, ' error'));
  const nativeLines = native.map((l) => l.replace(/ error \d+$/, ' error'));
  assert.equal(wasm.length, nativeLines.length, `seed ${seed}: transcript lengths`);
  for (let i = 0; i < wasm.length; ++i) assert.equal(wasm[i], nativeLines[i], `seed ${seed}: line ${i}`);
  // Converged, and the transcript was not trivially empty.
  const memories = wasm.filter((l) => l.split(' ')[1] === 'memory').map((l) => l.split(' ')[2]);
  assert.equal(new Set(memories).size, 1, `seed ${seed}: replicas differ after catch-up`);
  assert.ok(wasm.filter((l) => l.includes(' patch ')).length > 20);
});
