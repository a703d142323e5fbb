// The demo module, life.wasm, run by V8 in two instances whose memories only meet through
// patches: they take turns stepping the game and must end where a single run ends, and where
// the same module translated by wasm2c ends (one module, two runtimes, same bytes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

import { binDir, instantiateLife, lifeMemory, wmd } from './helpers.mjs';

const GENERATIONS = 60;
const SEED = 2024;

async function soloChecksum() {
  const life = await instantiateLife(lifeMemory());
  life.life_init(SEED);
  while (life.life_generation() < GENERATIONS) life.life_step(0);
  return life.life_checksum();
}

test('two V8 instances taking turns through patches end where a solo run ends', async () => {
  const memories = [lifeMemory(), lifeMemory()];
  const hosts = await Promise.all(memories.map(instantiateLife));
  const distributors = memories.map((m, i) => wmd.createMemoryDistributor(m, `host-${i}`));
  hosts[0].life_init(SEED);
  distributors[1].applyPatches(distributors[0].scan());
  for (let g = 0; g < GENERATIONS; ++g) {
    // Host g % 2 steps once it sees generation g whole, and sends its changes to the other.
    const role = g % 2;
    assert.equal(hosts[role].life_ready(g), 1, `generation ${g} arrived whole on host ${role}`);
    hosts[role].life_step(role);
    distributors[1 - role].applyPatches(distributors[role].scan());
  }
  const [a, b] = memories.map((m) => new Uint8Array(m.buffer));
  assert.equal(a.length, b.length, 'both memories grew alike');
  assert.ok(Buffer.compare(a, b) === 0, 'memories are byte-identical');
  assert.equal(hosts[0].life_checksum(), await soloChecksum());
  assert.ok(memories[0].buffer.byteLength > 3 * 65536, 'the history made the memory grow');
});

test('the wasm2c host computes the same game as V8', { skip: !existsSync(path.join(binDir, 'wmd-life-host')) }, async () => {
  const out = execFileSync(path.join(binDir, 'wmd-life-host'), [
    '--solo', '--generations', String(GENERATIONS), '--seed', String(SEED), '--render-every', '0',
  ]).toString();
  const match = /final generation (\d+) checksum ([0-9a-f]{8})/.exec(out);
  assert.ok(match, out);
  assert.equal(Number(match[1]), GENERATIONS);
  assert.equal(parseInt(match[2], 16), (await soloChecksum()) >>> 0);
});
