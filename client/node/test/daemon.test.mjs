// The Node addon against real daemons: a WebAssembly.Memory mirrored into segment A converges
// with segment B, which a second wmdd keeps on the other end of a loopback TCP connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

import { binDir, freePort, instantiateLife, lifeMemory, until, wmd } from './helpers.mjs';

const wmdd = path.join(binDir, 'wmdd');
const skip = !existsSync(wmdd) && `${wmdd} not built`;
const tag = `/wmd-node-daemon-${process.pid}`;
const segA = `${tag}-A`;
const segB = `${tag}-B`;
const daemons = [];



function segmentBytes(name) {
  return new Uint8Array(readFileSync(`/dev/shm${name}`));
}

before(async () => {
  if (skip) return;
  const [portA, portB] = [await freePort(), await freePort()];
  const start = (segment, port, peer, id) => {
    const child = spawn(wmdd, [
      '--segment', segment, '--size', String(3 * 65536), '--listen', `127.0.0.1:${port}`,
      '--peers', `127.0.0.1:${peer}`, '--id', id, '--scan-interval', '20', '--log-level', 'warn',
    ], { stdio: ['ignore', 'inherit', 'inherit'] });
    daemons.push(child);
  };
  start(segA, portA, portB, 'node-test-A');
  start(segB, portB, portA, 'node-test-B');
});

after(async () => {
  for (const child of daemons) child.kill('SIGTERM');
  await Promise.all(daemons.map((child) => new Promise((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.on('exit', resolve);
  })));
  for (const name of [segA, segB]) {
    for (const suffix of ['', '.ctl', '.state']) rmSync(`/dev/shm${name}${suffix}`, { force: true });
  }
});

test('a module stepping in V8 and flushing through wmdd A shows up byte for byte in segment B', { skip }, async () => {
  const memory = lifeMemory();
  const life = await instantiateLife(memory);
  const mirror = wmd.attachSegment(memory, segA);
  await until('wmdd A to connect to its peer', () => mirror.status().peers.some((p) => p.connected));
  life.life_init(7);
  mirror.push({ flush: true });
  for (let g = 0; g < 50; ++g) {
    life.life_step(0);
    assert.equal(mirror.push({ flush: true, timeoutMs: 2000 }).flushed, true);
  }
  assert.ok(memory.buffer.byteLength > 3 * 65536, 'the module grew its memory');
  const local = new Uint8Array(memory.buffer);
  await until('segment B to equal the memory', () => {
    const remote = segmentBytes(segB);
    return remote.length === local.length && Buffer.compare(remote, local) === 0;
  });
  mirror.close();
});

test('bytes written into segment B reach the mirrored memory on the other side', { skip }, async () => {
  const memory = lifeMemory();
  const mirror = wmd.attachSegment(memory, segA);
  const fd = openSync(`/dev/shm${segB}`, 'r+');
  writeSync(fd, new Uint8Array([0xde, 0xad, 0xbe, 0xef]), 0, 4, 100);
  closeSync(fd);
  const view = () => [...new Uint8Array(memory.buffer, 100, 4)];
  const deadline = Date.now() + 10000;
  while (view().join() !== [0xde, 0xad, 0xbe, 0xef].join()) {
    assert.ok(Date.now() < deadline, 'the remote bytes arrive within 10 s');
    await mirror.waitRemoteAsync(50);  // woken when wmdd A applies the patch
    mirror.pull();
  }
  mirror.close();
});
