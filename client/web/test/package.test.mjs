// wmd-wasm as a package: the seed's usage, the object API, frames of every type, refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { assertSeedUsageConverged, runSeedUsage } from '../../node/test/seed_usage_runner.mjs';
import { packageDir, rng, wmdWasm } from './helpers.mjs';

const memory = (pages = 2, maximum = 64) => new WebAssembly.Memory({ initial: pages, maximum });

test("the seed README's usage runs on wmd-wasm: both peers converge", () => {
  assertSeedUsageConverged(runSeedUsage(packageDir, 'wmd-wasm'));
});

test('three distributors with concurrent writes to one page converge byte for byte', () => {
  const seed = 0xc0ffee;
  const next = rng(seed);
  const mems = [memory(), memory(), memory()];
  const ds = mems.map((m, i) => wmdWasm.createMemoryDistributor(m, `peer-${i}`, { scanInterval: 0 }));
  for (let round = 0; round < 30; ++round) {
    const rounds = mems.map((m, i) => {
      const view = new Uint8Array(m.buffer);
      for (let k = next() % 8; k > 0; --k) view[next() % 9000] = next() & 0xff;
      return ds[i].scan();
    });
    // Delivered in a random order, some twice.
    for (let i = 0; i < 3; ++i) {
      for (let j = 0; j < 3; ++j) {
        if (i !== j) ds[j].applyPatches(rounds[i]);
        if (i !== j && next() % 3 === 0) ds[j].applyPatches(rounds[i]);
      }
    }
  }
  for (const d of ds) assert.deepEqual(d.scan(), [], `seed ${seed}: nothing pending`);
  const [a, b, c] = mems.map((m) => new Uint8Array(m.buffer));
  assert.deepEqual(a, b, `seed ${seed}`);
  assert.deepEqual(a, c, `seed ${seed}`);
  assert.deepEqual(ds[0].digests(), ds[1].digests());
  for (const d of ds) d.destroy();
});

test('every message type survives encodeFrame and decodeFrame unchanged', () => {
  const limits = { pageSize: 4096, maxSize: 1 << 20 };
  const page = new Uint8Array(4096).fill(7);
  const messages = [
    { type: 'hello', protocolVersion: 3, cluster: 'c', peerId: 'tab-1', pageSize: 4096, size: 65536, lamport: 9, clock: { 'tab-1': 3, x: 1 } },
    { type: 'patch', origin: 'tab-1', seq: 2, lamport: 9, runs: [{ offset: 10, bytes: Uint8Array.of(1, 2) }, { offset: 5000, bytes: Uint8Array.of(3) }] },
    { type: 'growth', size: 131072 },
    { type: 'digests', size: 65536, last: true, replyRequested: true, digests: [{ page: 0, digest: '00000000000000ff' }, { page: 3, digest: 'ffffffffffffffff' }] },
    { type: 'pageStates', pages: [{ page: 1, bytes: page, versions: [{ start: 0, end: 100, lamport: 0, peer: '' }, { start: 100, end: 4096, lamport: 4, peer: 'tab-1' }] }] },
    { type: 'catchupDone', pagesSent: 1 },
    { type: 'heartbeat', token: 0xfedcba9876543210n, reply: true },
    { type: 'error', code: 17, message: 'cluster differs' },
  ];
  for (const message of messages) {
    assert.deepEqual(wmdWasm.decodeFrame(wmdWasm.encodeFrame(message), limits), message, message.type);
  }
});

test('bad frames are refused with the codec error, and nothing is applied', () => {
  const d = wmdWasm.createMemoryDistributor(memory(), 'A', { scanInterval: 0 });
  const frame = wmdWasm.encodeFrame({ type: 'patch', origin: 'B', seq: 1, lamport: 1, runs: [{ offset: 0, bytes: Uint8Array.of(1) }] });
  assert.throws(() => d.receiveFrame(frame.subarray(0, frame.length - 1)), { code: 'ERR_WMD_TRUNCATED' });
  const bad = frame.slice();
  bad[4] = 99;
  assert.throws(() => d.receiveFrame(bad), { code: 'ERR_WMD_UNKNOWN_MESSAGE_TYPE' });
  const beyond = wmdWasm.encodeFrame({ type: 'patch', origin: 'B', seq: 1, lamport: 1, runs: [{ offset: d.maxSize, bytes: Uint8Array.of(1) }] });
  assert.throws(() => d.receiveFrame(beyond), { code: 'ERR_WMD_BEYOND_MAX_SIZE' });
  assert.deepEqual(d.digests(), []);
  assert.equal(d.receiveFrame(frame).type, 'patch');
  assert.equal(d.digests().length, 1);
  d.destroy();
  assert.throws(() => d.scan(), { code: 'ERR_WMD_DESTROYED' });
});

test('growth: a patch past the end grows the memory; the module growing its memory grows the engine', () => {
  const [ma, mb] = [memory(1), memory(1)];
  const a = wmdWasm.createMemoryDistributor(ma, 'A', { scanInterval: 0 });
  const b = wmdWasm.createMemoryDistributor(mb, 'B', { scanInterval: 0 });
  ma.grow(2);
  new Uint8Array(ma.buffer)[3 * 65536 - 1] = 5;
  const result = b.applyPatches(a.scan());
  assert.equal(result.grew, true);
  assert.equal(mb.buffer.byteLength, 3 * 65536);
  assert.equal(new Uint8Array(mb.buffer)[3 * 65536 - 1], 5);
  assert.equal(b.size, 3 * 65536);
  assert.throws(() => wmdWasm.createMemoryDistributor(memory(), 'A', { pageSize: 1000 }), { code: 'ERR_WMD_INVALID_PAGE_SIZE' });
  assert.throws(() => wmdWasm.createMemoryDistributor(memory(), ''), { code: 'ERR_WMD_INVALID_PEER_ID' });
});
