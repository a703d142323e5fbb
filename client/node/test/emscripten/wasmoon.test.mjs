// A real third-party emscripten program through two daemons: wasmoon (Lua 5.4 compiled with
// emscripten, from npm; its whole Lua state lives in linear memory) builds state in one process
// mirrored into segment A; wmdd A replicates it to wmdd B; a fresh wasmoon instance in another
// process attaches to segment B and continues that state. Both segments are 64 MiB
// (`wmdd --size 64M`), larger than the module's 16 MiB memory:
// - the building process's memory is not grown for the segment's zero tail, and Lua runs on
//   after the attach (growing it behind the glue would leave emscripten's heap views stale);
// - the fresh instance finds data beyond its 16 MiB, grows through the grow hook (emscripten's
//   own resize path, so the glue's views follow) and runs on with the other process's state;
//   without the hook (memory.grow behind the glue) the same instance fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { binDir, freePort, until } from '../helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const wmdd = path.join(binDir, 'wmdd');
const tag = `/wmd-node-wasmoon-${process.pid}`;
const segA = `${tag}-A`;
const segB = `${tag}-B`;
const daemons = [];



function segmentBytes(name) {
  try {
    return readFileSync(`/dev/shm${name}`);
  } catch {
    return null;
  }
}

function sameBytes(a, b) {
  return a !== null && b !== null && a.length === b.length && a.equals(b);
}

async function host(role, segment) {
  const { stdout } = await promisify(execFile)(process.execPath,
    [path.join(here, 'wasmoon_host.mjs'), role, segment],
    { env: process.env, timeout: 60000, maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop());
}

before(async () => {
  assert.ok(existsSync(wmdd), `${wmdd} not built`);
  assert.ok(existsSync(path.join(here, 'node_modules', 'wasmoon')),
    'wasmoon is not installed: run scripts/install-deps (npm ci in client/node/test/emscripten)');
  const [portA, portB] = [await freePort(), await freePort()];
  const start = (segment, port, peer, id) => {
    daemons.push(spawn(wmdd, [
      '--segment', segment, '--size', '64M', '--listen', `127.0.0.1:${port}`,
      '--peers', `127.0.0.1:${peer}`, '--id', id, '--scan-interval', '50', '--log-level', 'warn',
    ], { stdio: ['ignore', 'inherit', 'inherit'] }));
  };
  start(segA, portA, portB, 'wasmoon-A');
  start(segB, portB, portA, 'wasmoon-B');
  await until('both segments', () => segmentBytes(segA) && segmentBytes(segB), 10000);
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

test('Lua state built by wasmoon in one process is continued by a fresh instance in another, through two daemons', async () => {
  const built = await host('build', segA);
  assert.equal(built.startMiB, 16, 'wasmoon starts with a 16 MiB memory');
  assert.ok(built.builtMiB > 16 && built.builtMiB < 64, `the state grew the memory (${built.builtMiB} MiB)`);
  assert.equal(built.segmentMiB, 64);
  assert.equal(built.attachedMiB, built.builtMiB, 'a zero tail does not grow the memory');
  assert.deepEqual(built.grows, []);
  assert.equal(built.counter, 41, 'Lua runs on after the attach');
  assert.equal(built.heapMatches, true);
  assert.equal(built.flushed, true);

  await until('segment B to equal segment A', () => sameBytes(segmentBytes(segA), segmentBytes(segB)), 60000, 200);

  // Without the hook the memory grows behind the glue: its heap views are stale and Lua fails.
  const unhooked = await host('unhooked', segB);
  assert.equal(unhooked.attachedMiB, 64);
  assert.equal(unhooked.heapMatches, false, 'the glue still sees its old 16 MiB view');
  assert.ok('failed' in unhooked, `Lua ran on stale views: ${JSON.stringify(unhooked)}`);

  const continued = await host('continue', segB);
  assert.equal(continued.startMiB, 16);
  assert.deepEqual(continued.grows, [64 * 1048576], 'grown once, through the hook, to the segment');
  assert.equal(continued.attachedMiB, 64);
  assert.equal(continued.heapMatches, true, "emscripten's views follow the growth");
  assert.equal(continued.counter, 42, 'the other process\'s counter, incremented');
  assert.equal(continued.count, 200000);
  assert.equal(continued.last, 'x200000');
  assert.equal(continued.more, '250000 built,continued');
  assert.equal(continued.flushed, true);

  // What the fresh instance did travels back: both segments end byte for byte equal.
  await until('the segments to converge', () => sameBytes(segmentBytes(segA), segmentBytes(segB)), 60000, 200);
});
