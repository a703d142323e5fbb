// Mirror mode (attachSegment): a WebAssembly.Memory kept in step with a wmd segment, checked
// through the segment's data object in /dev/shm (which holds exactly the memory's bytes).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';

import { instantiateLife, lifeMemory, wmd } from './helpers.mjs';

const created = [];
let counter = 0;
function segmentName() {
  const name = `/wmd-node-test-${process.pid}-${++counter}`;
  created.push(name);
  return name;
}
after(() => {
  for (const name of created) {
    for (const suffix of ['', '.ctl', '.state']) rmSync(`/dev/shm${name}${suffix}`, { force: true });
  }
});

function segmentBytes(name) {
  return new Uint8Array(readFileSync(`/dev/shm${name}`));
}

// Another process writing the segment (what the daemon does with a peer's patch).
function writeSegment(name, offset, bytes) {
  const fd = openSync(`/dev/shm${name}`, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

test('attach creates the segment at the memory size and pulls its bytes into the memory', () => {
  const name = segmentName();
  const first = new WebAssembly.Memory({ initial: 2, maximum: 64 });
  const a = wmd.attachSegment(first, name);
  assert.equal(a.size, 2 * 65536);
  assert.equal(a.pageSize, 8192);
  new Uint8Array(first.buffer).set([1, 2, 3], 1000);
  a.push();
  const second = new WebAssembly.Memory({ initial: 2, maximum: 64 });
  new Uint8Array(second.buffer)[5] = 99;  // the segment wins on an initial pull
  const b = wmd.attachSegment(second, name);
  assert.deepEqual([...new Uint8Array(second.buffer, 999, 5)], [0, 1, 2, 3, 0]);
  assert.equal(new Uint8Array(second.buffer)[5], 0);
  a.close();
  b.close();
  assert.equal(a.closed, true);
  assert.throws(() => a.push(), { code: 'ERR_WMD_CLOSED' });
});

test('push copies only the bytes the module changed; pull only the bytes peers changed', () => {
  const name = segmentName();
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 64 });
  const mirror = wmd.attachSegment(memory, name);
  const view = new Uint8Array(memory.buffer);
  view[10] = 1;
  view[70000] = 2;
  assert.deepEqual(mirror.push(), { pagesChanged: 2, bytesCopied: 2, grew: false });
  assert.equal(segmentBytes(name)[70000], 2);
  assert.deepEqual(mirror.push(), { pagesChanged: 0, bytesCopied: 0, grew: false });

  writeSegment(name, 20, new Uint8Array([7, 8]));
  view[30] = 5;  // an unpushed local change in the same page survives the pull
  const pulled = mirror.pull();
  assert.equal(pulled.bytesCopied, 2);
  assert.deepEqual([...view.subarray(20, 22)], [7, 8]);
  assert.equal(view[30], 5);
  assert.equal(mirror.push().bytesCopied, 1);
  assert.deepEqual(segmentBytes(name), new Uint8Array(memory.buffer));
  mirror.close();
});

test('initial push makes the segment a copy of the memory', () => {
  const name = segmentName();
  const seeded = new WebAssembly.Memory({ initial: 2, maximum: 64 });
  wmd.attachSegment(seeded, name).close();
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 64 });
  new Uint8Array(memory.buffer).fill(0xab, 100, 200);
  const mirror = wmd.attachSegment(memory, name, { initial: 'push' });
  assert.deepEqual(segmentBytes(name), new Uint8Array(memory.buffer));
  mirror.close();
});

test('growth: the module growing its memory grows the segment, and the other side follows', () => {
  const name = segmentName();
  const memA = new WebAssembly.Memory({ initial: 2, maximum: 64 });
  const memB = new WebAssembly.Memory({ initial: 2, maximum: 64 });
  const a = wmd.attachSegment(memA, name);
  const b = wmd.attachSegment(memB, name);
  memA.grow(3);
  new Uint8Array(memA.buffer)[5 * 65536 - 1] = 42;
  assert.equal(a.push().grew, true);
  assert.equal(segmentBytes(name).length, 5 * 65536);
  const pulled = b.pull();
  assert.equal(pulled.grew, true);
  assert.equal(memB.buffer.byteLength, 5 * 65536);
  assert.equal(new Uint8Array(memB.buffer)[5 * 65536 - 1], 42);
  a.close();
  b.close();
});

test('a larger segment with a zero tail leaves the memory alone; data beyond it grows the memory', () => {
  const name = segmentName();
  const big = new WebAssembly.Memory({ initial: 8, maximum: 64 });
  wmd.attachSegment(big, name).close();  // an 8-page segment, all zero (as wmdd --size makes)
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 64 });
  const before = memory.buffer;
  const mirror = wmd.attachSegment(memory, name);
  assert.equal(memory.buffer.byteLength, 2 * 65536, 'the memory did not grow');
  assert.equal(memory.buffer, before, 'memory.buffer was not replaced (views stay valid)');
  assert.equal(mirror.size, 2 * 65536);
  new Uint8Array(memory.buffer)[100] = 5;
  assert.equal(mirror.push().grew, false);
  assert.equal(segmentBytes(name)[100], 5);
  assert.equal(mirror.pull().grew, false);
  assert.equal(memory.buffer, before);
  // A peer's module grew and wrote at 6 pages: the memory grows to the whole segment.
  writeSegment(name, 6 * 65536 + 3, Uint8Array.of(77));
  assert.equal(mirror.pull().grew, true);
  assert.equal(memory.buffer.byteLength, 8 * 65536);
  assert.equal(new Uint8Array(memory.buffer)[6 * 65536 + 3], 77);
  assert.equal(new Uint8Array(memory.buffer)[100], 5);
  mirror.close();
});

test('the grow hook carries growth to the runtime; without one, memory.grow; a short hook fails', () => {
  const name = segmentName();
  wmd.attachSegment(new WebAssembly.Memory({ initial: 6, maximum: 64 }), name).close();
  writeSegment(name, 5 * 65536, Uint8Array.of(1));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 64 });
  const asked = [];
  const mirror = wmd.attachSegment(memory, name, {
    grow(bytes) {
      asked.push(bytes);
      memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
    },
  });
  assert.deepEqual(asked, [6 * 65536], 'one call, with the segment size in bytes');
  assert.equal(new Uint8Array(memory.buffer)[5 * 65536], 1);
  mirror.close();

  const lazy = new WebAssembly.Memory({ initial: 1, maximum: 64 });
  assert.throws(() => wmd.attachSegment(lazy, name, { grow() {} }),
    (e) => e instanceof RangeError && e.code === 'ERR_WMD_GROW');
  assert.throws(() => wmd.attachSegment(lazy, name, { grow: 5 }), TypeError);
  const small = new WebAssembly.Memory({ initial: 1, maximum: 2 });
  assert.throws(() => wmd.attachSegment(small, name), RangeError, 'beyond the memory maximum');
});

test('bad arguments: a non-memory, a bad name, a missing segment without create', () => {
  assert.throws(() => wmd.attachSegment({}, segmentName()), TypeError);
  const memory = new WebAssembly.Memory({ initial: 1 });
  assert.throws(() => wmd.attachSegment(memory, 'no-slash'), { code: 'ERR_WMD_EINVAL' });
  assert.throws(() => wmd.attachSegment(memory, segmentName(), { create: false }), { code: 'ERR_WMD_ENOENT' });
  assert.throws(() => wmd.attachSegment(memory, segmentName(), { initial: 'sideways' }), RangeError);
});

test('without a daemon, flush reports false and status shows no daemon', () => {
  const name = segmentName();
  const mirror = wmd.attachSegment(new WebAssembly.Memory({ initial: 1 }), name);
  assert.equal(mirror.flush(10), false);
  assert.equal(mirror.push({ flush: true, timeoutMs: 10 }).flushed, false);
  assert.equal(mirror.status().daemonPid, 0);
  assert.equal(mirror.waitRemote(1), false);
  mirror.close();
});

test('waitRemoteAsync resolves false on timeout without blocking, and close waits for it', async () => {
  const mirror = wmd.attachSegment(new WebAssembly.Memory({ initial: 1 }), segmentName());
  let ticks = 0;
  const ticker = setInterval(() => ++ticks, 1);
  const pending = mirror.waitRemoteAsync(60);
  mirror.close();  // the segment is released when the wait ends
  assert.equal(mirror.closed, true);
  assert.equal(await pending, false);
  clearInterval(ticker);
  assert.ok(ticks > 0, 'the event loop ran while waiting');
  assert.throws(() => mirror.waitRemoteAsync(1), { code: 'ERR_WMD_CLOSED' });
});

test('two V8 instances of life.wasm mirrored into one segment take turns and match a solo run', async () => {
  const name = segmentName();
  const memories = [lifeMemory(), lifeMemory()];
  const hosts = await Promise.all(memories.map(instantiateLife));
  const mirrors = memories.map((m) => wmd.attachSegment(m, name));
  hosts[0].life_init(2024);
  mirrors[0].push();
  for (let g = 0; g < 60; ++g) {
    const role = g % 2;
    mirrors[role].pull();
    assert.equal(hosts[role].life_ready(g), 1, `generation ${g} whole on host ${role}`);
    hosts[role].life_step(role);
    mirrors[role].push();
  }
  mirrors[0].pull();
  const solo = await instantiateLife(lifeMemory());
  solo.life_init(2024);
  while (solo.life_generation() < 60) solo.life_step(0);
  assert.equal(hosts[0].life_checksum(), solo.life_checksum());
  assert.deepEqual(new Uint8Array(memories[0].buffer), new Uint8Array(memories[1].buffer));
  assert.deepEqual(segmentBytes(name), new Uint8Array(memories[0].buffer));
  for (const m of mirrors) m.close();
});

test('a segment page larger than a wasm page: the segment rounds up, the memory keeps its size', () => {
  const name = segmentName();
  const memory = new WebAssembly.Memory({ initial: 3, maximum: 64 });
  const mirror = wmd.attachSegment(memory, name, { pageSize: 131072 });
  assert.equal(mirror.pageSize, 131072);
  assert.equal(segmentBytes(name).length, 4 * 65536, 'the segment is whole pages');
  assert.equal(memory.buffer.byteLength, 3 * 65536, 'its zero tail does not grow the memory');
  assert.equal(mirror.size, 3 * 65536);
  memory.grow(2);
  new Uint8Array(memory.buffer)[5 * 65536 - 1] = 1;
  mirror.push();
  assert.equal(memory.buffer.byteLength, 5 * 65536);
  assert.equal(segmentBytes(name).length, 6 * 65536);
  assert.equal(segmentBytes(name)[5 * 65536 - 1], 1);
  mirror.close();
});
