#!/usr/bin/env node
// wmd-life-host for Node: runs life.wasm in V8, with its WebAssembly.Memory mirrored into a wmd
// segment (attachSegment: push the module's changes after each step, pull the peer's before
// looking). The counterpart of the wasm2c host (wasm2c_host.c), same options, same output:
//
//   node life_host.mjs --segment /NAME --role 1 --generations 60 --flush \
//        [--wasm build/wasm/life.wasm] [--package build/node/wmd]
//
// Generation g + 1 is computed by the host whose role is g % 2, after it has seen generation g
// arrive whole (life_ready). Prints the frames it sees and the final checksum.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

const { values: opt } = parseArgs({
  options: {
    segment: { type: 'string' },
    role: { type: 'string', default: '1' },
    init: { type: 'boolean', default: false },
    generations: { type: 'string', default: '40' },
    seed: { type: 'string', default: '2024' },
    'render-every': { type: 'string', default: '10' },
    flush: { type: 'boolean', default: false },
    'timeout-ms': { type: 'string', default: '20000' },
    label: { type: 'string' },
    wasm: { type: 'string', default: process.env.WMD_LIFE_WASM ?? path.join(repo, 'build', 'wasm', 'life.wasm') },
    package: { type: 'string', default: process.env.WMD_NODE_PACKAGE ?? path.join(repo, 'build', 'node', 'wmd') },
  },
});
if (!opt.segment) {
  console.error('usage: life_host.mjs --segment /NAME [--role 0|1] [--init] [--generations N] [--flush] ...');
  process.exit(2);
}
const role = Number(opt.role);
const generations = Number(opt.generations);
const renderEvery = Number(opt['render-every']);
const timeoutMs = Number(opt['timeout-ms']);
const label = opt.label ?? (role === 0 ? 'host A' : 'host B');

const wmd = createRequire(import.meta.url)(path.resolve(opt.package));

// The module's import declares 3 initial and 256 maximum pages of 64 KiB.
const memory = new WebAssembly.Memory({ initial: 3, maximum: 256 });
const { instance } = await WebAssembly.instantiate(readFileSync(opt.wasm), { env: { memory } });
const life = instance.exports;
// The segment's bytes win on attach: a game in progress is picked up where it is.
const mirror = wmd.attachSegment(memory, opt.segment, { initial: 'pull' });
console.log(`[${label}] ${opt.segment}: ${memory.buffer.byteLength / 1024} KiB WebAssembly.Memory mirrored (V8 owns the bytes)`);

function render() {
  const width = life.life_width();
  const height = life.life_height();
  const grid = new Uint8Array(memory.buffer, life.life_grid(), width * height);
  const stepper = String.fromCharCode(65 + life.life_last_stepper());
  const checksum = (life.life_checksum() >>> 0).toString(16).padStart(8, '0');
  const lines = [
    `[${label}] generation ${life.life_generation()} (stepped by host ${stepper}) population ${life.life_population()} checksum ${checksum}`,
  ];
  for (let y = 0; y < height; ++y) {
    let line = '';
    for (let x = 0; x < width; ++x) line += grid[y * width + x] ? '#' : '.';
    lines.push(`[${label}] ${line}`);
  }
  console.log(lines.join('\n'));
}

function publish() {
  const pushed = mirror.push({ flush: opt.flush, timeoutMs });
  if (opt.flush && pushed.flushed === false) throw new Error('wmd_flush: no daemon answered in time');
}

// Flushing needs the daemon: give one that is still starting the time to come up.
if (opt.flush) {
  const deadline = Date.now() + timeoutMs;
  while (mirror.status().daemonPid === 0) {
    if (Date.now() > deadline) {
      console.error(`[${label}] no daemon serves ${opt.segment} after ${timeoutMs} ms`);
      process.exit(1);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

if (opt.init) {
  life.life_init(Number(opt.seed));
  publish();
}

// Renders a generation when it is one to show; returns whether the game is over.
function observe(generation) {
  if (renderEvery > 0 && (generation % renderEvery === 0 || generation === generations)) render();
  return generation >= generations;
}

// Every generation is observed once: the peer's when they arrive whole, this host's own right
// after computing them (before the flush, after which the peer's answer may already be here).
let seen = -1;
let lastProgress = Date.now();
for (;;) {
  mirror.pull();
  const generation = life.life_generation();
  const ready = life.life_ready(generation) === 1;
  if (ready && generation !== seen) {
    seen = generation;
    lastProgress = Date.now();
    if (observe(generation)) break;
  }
  if (ready && generation % 2 === role) {
    life.life_step(role);
    seen = generation + 1;
    const over = observe(seen);
    publish();
    if (over) break;
    continue;
  }
  if (Date.now() - lastProgress > timeoutMs) {
    console.error(`[${label}] no progress for ${timeoutMs} ms at generation ${generation}`);
    process.exit(1);
  }
  mirror.waitRemote(20);
}
const checksum = (life.life_checksum() >>> 0).toString(16).padStart(8, '0');
console.log(
  `[${label}] final generation ${life.life_generation()} checksum ${checksum} population ${life.life_population()} memory ${memory.buffer.byteLength / 1024} KiB`,
);
mirror.close();
