// The seed-compatible API (createMemoryDistributor) over wmd's engine, on real
// WebAssembly.Memory objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

import { packageDir, rng, wmd } from './helpers.mjs';

function memory(pages = 2, maximum = 64) {
  return new WebAssembly.Memory({ initial: pages, maximum });
}

function bytes(mem) {
  return new Uint8Array(mem.buffer);
}

test('the package loads with require and with import, exposing the same functions', async () => {
  const required = createRequire(import.meta.url)(packageDir);
  const imported = await import(`${packageDir}/index.mjs`);
  assert.equal(typeof required.createMemoryDistributor, 'function');
  assert.equal(imported.createMemoryDistributor, required.createMemoryDistributor);
  assert.equal(imported.default.attachSegment, required.attachSegment);
});

test('installed as node_modules/wmd, the bare name resolves through the exports map', () => {
  const project = mkdtempSync(path.join(os.tmpdir(), 'wmd-package-'));
  try {
    mkdirSync(path.join(project, 'node_modules'));
    symlinkSync(path.resolve(packageDir), path.join(project, 'node_modules', 'wmd'), 'dir');
    writeFileSync(path.join(project, 'a.cjs'),
      "const w = require('wmd'); console.log(typeof w.createMemoryDistributor, typeof w.attachSegment);");
    writeFileSync(path.join(project, 'b.mjs'),
      "import w, { createMemoryDistributor } from 'wmd'; console.log(typeof createMemoryDistributor, typeof w.attachSegment);");
    for (const file of ['a.cjs', 'b.mjs']) {
      const out = execFileSync(process.execPath, [file], { cwd: project }).toString().trim();
      assert.equal(out, 'function function', file);
    }
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
});

test('a scan reports exactly the changed bytes as runs of a patch', () => {
  const mem = memory();
  const d = wmd.createMemoryDistributor(mem, 'A');
  assert.deepEqual(d.scan(), []);
  bytes(mem).set([1, 2, 3], 100);
  bytes(mem)[70000] = 9;
  const patches = d.scan();
  assert.equal(patches.length, 1);
  const [patch] = patches;
  assert.equal(patch.origin, 'A');
  assert.equal(patch.seq, 1);
  assert.deepEqual(
    patch.runs.map((r) => [r.offset, [...r.bytes]]),
    [[100, [1, 2, 3]], [70000, [9]]],
  );
  assert.deepEqual(d.scan(), [], 'nothing changed since');
  d.destroy();
});

test('two distributors exchanging patches converge byte for byte (seeded random writes)', () => {
  const seed = 0x5eed1234;
  const next = rng(seed);
  const memA = memory();
  const memB = memory();
  const a = wmd.createMemoryDistributor(memA, 'A');
  const b = wmd.createMemoryDistributor(memB, 'B');
  for (let round = 0; round < 50; ++round) {
    for (const mem of [memA, memB]) {
      const view = bytes(mem);
      for (let k = next() % 20; k > 0; --k) view[next() % view.length] = next() & 0xff;
    }
    const fromA = a.scan();
    const fromB = b.scan();
    // Deliver in a different order on each side, with a duplicate.
    b.applyPatches([...fromA, ...fromA]);
    a.applyPatches([...fromB].reverse());
  }
  // Local patches absorbed while applying are the last ones to deliver.
  b.applyPatches(a.scan());
  a.applyPatches(b.scan());
  assert.deepEqual(bytes(memA), bytes(memB), `seed ${seed}`);
  assert.deepEqual(a.getVectorClock(), b.getVectorClock(), `seed ${seed}`);
  a.destroy();
  b.destroy();
});

test('concurrent writes to disjoint bytes of one page both survive', () => {
  const memA = memory();
  const memB = memory();
  const a = wmd.createMemoryDistributor(memA, 'A');
  const b = wmd.createMemoryDistributor(memB, 'B');
  bytes(memA)[10] = 0xaa;
  bytes(memB)[11] = 0xbb;
  const fromA = a.scan();
  const fromB = b.scan();
  a.applyPatches(fromB);
  b.applyPatches(fromA);
  for (const mem of [memA, memB]) {
    assert.equal(bytes(mem)[10], 0xaa);
    assert.equal(bytes(mem)[11], 0xbb);
  }
});

test('applying a patch twice changes nothing the second time', () => {
  const memA = memory();
  const memB = memory();
  const a = wmd.createMemoryDistributor(memA, 'A');
  const b = wmd.createMemoryDistributor(memB, 'B');
  bytes(memA).fill(7, 0, 4096);
  const patches = a.scan();
  assert.equal(b.applyPatches(patches).bytesWritten, 4096);
  assert.equal(b.applyPatches(patches).bytesWritten, 0);
});

test('onDiff listeners receive scanned patches and local changes absorbed by an apply', () => {
  const memA = memory();
  const memB = memory();
  const a = wmd.createMemoryDistributor(memA, 'A');
  const b = wmd.createMemoryDistributor(memB, 'B');
  const seen = [];
  const off = b.onDiff((patch) => seen.push(patch));
  bytes(memB)[5] = 1;
  b.scan();
  assert.equal(seen.length, 1);
  // A pending local write in the page a remote patch touches is absorbed first.
  bytes(memB)[6] = 2;
  bytes(memA)[7] = 3;
  const result = b.applyPatches(a.scan());
  assert.equal(result.diffs.length, 1);
  assert.equal(seen.length, 2);
  assert.deepEqual([...seen[1].runs[0].bytes], [2]);
  assert.equal(off(), true);
  bytes(memB)[8] = 4;
  b.scan();
  assert.equal(seen.length, 2, 'a removed listener hears nothing');
});

test('growth: memory.grow by the module is followed, and patches past the size grow the peer', () => {
  const memA = memory(2, 64);
  const memB = memory(2, 64);
  const a = wmd.createMemoryDistributor(memA, 'A');
  const b = wmd.createMemoryDistributor(memB, 'B');
  memA.grow(3);
  bytes(memA)[5 * 65536 - 1] = 42;
  const patches = a.scan();
  assert.equal(a.size, 5 * 65536);
  const result = b.applyPatches(patches);
  assert.equal(result.grew, true);
  assert.equal(memB.buffer.byteLength, 5 * 65536);
  assert.equal(bytes(memB)[5 * 65536 - 1], 42);
  assert.equal(b.resizeMemory(8 * 65536), 8 * 65536);
  assert.equal(memB.buffer.byteLength, 8 * 65536);
});

test('a patch beyond maxSize is refused whole, with ERR_WMD_BEYOND_MAX_SIZE', () => {
  const mem = memory(2, 64);
  const d = wmd.createMemoryDistributor(mem, 'A', { maxSize: 4 * 65536 });
  const hostile = {
    origin: 'X',
    seq: 1,
    lamport: 5,
    runs: [
      { offset: 0, bytes: new Uint8Array([1]) },
      { offset: 4 * 65536, bytes: new Uint8Array([1]) },
    ],
  };
  assert.throws(() => d.applyPatches(hostile), { code: 'ERR_WMD_BEYOND_MAX_SIZE' });
  assert.equal(bytes(mem)[0], 0, 'nothing applied half-way');
  assert.throws(() => d.resizeMemory(8 * 65536), { code: 'ERR_WMD_BEYOND_MAX_SIZE' });
});

test('bad arguments are TypeErrors and a destroyed distributor says so', () => {
  const mem = memory();
  assert.throws(() => wmd.createMemoryDistributor({}, 'A'), TypeError);
  assert.throws(() => wmd.createMemoryDistributor(mem, 42), TypeError);
  assert.throws(() => wmd.createMemoryDistributor(mem, ''), { code: 'ERR_WMD_INVALID_PEER_ID' });
  assert.throws(() => wmd.createMemoryDistributor(mem, 'A', { pageSize: 1000 }), {
    code: 'ERR_WMD_INVALID_PAGE_SIZE',
  });
  const d = wmd.createMemoryDistributor(mem, 'A');
  assert.throws(() => d.applyPatches([{ origin: 'B' }]), TypeError);
  d.destroy();
  assert.throws(() => d.scan(), { code: 'ERR_WMD_DESTROYED' });
});

test('scanInterval scans on a timer and reports patches through onDiff', async () => {
  const mem = memory();
  const d = wmd.createMemoryDistributor(mem, 'A', { scanInterval: 5 });
  // The distributor's timer is unref'd; this one keeps the test alive meanwhile.
  let guard;
  const got = new Promise((resolve, reject) => {
    d.onDiff(resolve);
    guard = setTimeout(() => reject(new Error('no automatic scan within 5 s')), 5000);
  });
  bytes(mem)[3] = 3;
  const patch = await got.finally(() => clearTimeout(guard));
  assert.deepEqual([...patch.runs[0].bytes], [3]);
  d.destroy();
});

test('catch-up: after lost patches, exchanging the states of pages whose digests differ converges', () => {
  const seed = 77;
  const next = rng(seed);
  const memA = memory(4, 64);
  const memB = memory(4, 64);
  const a = wmd.createMemoryDistributor(memA, 'A');
  const b = wmd.createMemoryDistributor(memB, 'B');
  for (let round = 0; round < 20; ++round) {
    for (const mem of [memA, memB]) {
      const view = bytes(mem);
      for (let k = next() % 30; k > 0; --k) view[next() % view.length] = next() & 0xff;
    }
    const fromA = a.scan();
    const fromB = b.scan();
    // Half the rounds are lost on the way.
    if (next() % 2) b.applyPatches(fromA);
    if (next() % 2) a.applyPatches(fromB);
  }
  a.scan();
  b.scan();
  const table = (d) => new Map(d.digests().map(({ page, digest }) => [page, digest]));
  const [da, db] = [table(a), table(b)];
  const pages = new Set([...da.keys(), ...db.keys()]);
  const differing = [...pages].filter((p) => da.get(p) !== db.get(p));
  assert.ok(differing.length > 0, `seed ${seed}: something was lost`);
  for (const page of differing) {
    const fromA = a.exportPage(page);
    const fromB = b.exportPage(page);
    b.mergePage(fromA);
    a.mergePage(fromB);
  }
  assert.deepEqual(bytes(memA), bytes(memB), `seed ${seed}`);
  assert.deepEqual(a.digests(), b.digests(), `seed ${seed}`);
});

test('mergePage refuses a malformed state', () => {
  const d = wmd.createMemoryDistributor(memory(), 'A');
  assert.throws(() => d.mergePage({ page: 0, bytes: new Uint8Array(10), versions: [] }), {
    code: /ERR_WMD/,
  });
  assert.throws(() => d.mergePage({ page: 0 }), TypeError);
});
