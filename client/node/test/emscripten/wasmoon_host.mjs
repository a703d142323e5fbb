// A host for wasmoon (Lua 5.4 built with emscripten, from npm) whose Lua state lives in the
// module's linear memory, mirrored into a wmd segment with attachSegment. One process, one role:
//
//   node wasmoon_host.mjs build    /SEGMENT   builds Lua state, then mirrors it into the segment
//   node wasmoon_host.mjs continue /SEGMENT   a fresh instance takes the segment's state and
//                                              goes on with it
//   node wasmoon_host.mjs unhooked /SEGMENT   the same without the grow hook (memory.grow behind
//                                              the glue): reports how Lua fails, writes nothing
//
// Prints one JSON line with what it saw. The emscripten recipe (README.md, "Emscripten
// modules"): capture the module's imports at instantiation, and hand the mirror a grow hook that
// calls the module's own emscripten_resize_heap, so the glue's heap views follow the growth.
import assert from 'node:assert/strict';

import { wmd } from '../helpers.mjs';

const [role, segment] = process.argv.slice(2);
assert.ok(['build', 'continue', 'unhooked'].includes(role), 'role: build, continue or unhooked');

// The glue instantiates the module itself; keep its imports and exports.
let module = null;
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async function (source, imports) {
  const result = await instantiate.call(this, source, imports);
  module = { imports, exports: (result.instance ?? result).exports };
  return result;
};

let wasmoon;
try {
  wasmoon = await import('wasmoon');
} catch (error) {
  throw new Error(`wasmoon is not installed (run scripts/install-deps): ${error.message}`);
}
const lua = await new wasmoon.LuaFactory().createEngine();
assert.ok(module, 'the wasmoon glue did not instantiate through WebAssembly.instantiate');
const memory = module.exports.memory;
const heap = () => lua.global.lua.module.HEAPU8; // the glue's cached view of the memory
const report = { role, startMiB: memory.buffer.byteLength / 1048576 };
const grows = [];
const grow = (bytes) => {
  grows.push(bytes);
  assert.ok(module.imports.env.emscripten_resize_heap(bytes), 'emscripten refused to grow');
};

if (role === 'build') {
  // Enough state to grow the module past its 16 MiB: 200,000 strings in a table.
  await lua.doString(`
    t = {}
    for i = 1, 200000 do t[i] = string.rep('x', 100) .. i end
    counter = 41
    log = { 'built' }`);
  report.builtMiB = memory.buffer.byteLength / 1048576;
  const mirror = wmd.attachSegment(memory, segment, { initial: 'push', grow });
  report.attachedMiB = memory.buffer.byteLength / 1048576;
  report.segmentMiB = mirror.status().sizeBytes / 1048576;
  // The glue's views are intact: Lua runs on after the attach.
  report.counter = await lua.doString('return counter');
  report.heapMatches = heap().length === memory.buffer.byteLength;
  report.flushed = mirror.push({ flush: true, timeoutMs: 5000 }).flushed;
  mirror.close();
} else if (role === 'unhooked') {
  const mirror = wmd.attachSegment(memory, segment, { initial: 'pull' });
  report.attachedMiB = memory.buffer.byteLength / 1048576;
  report.heapMatches = heap().length === memory.buffer.byteLength;
  try {
    report.counter = await lua.doString('return counter');
  } catch (error) {
    report.failed = String(error.message ?? error);
  }
  mirror.close();
} else {
  const mirror = wmd.attachSegment(memory, segment, { initial: 'pull', grow });
  report.attachedMiB = memory.buffer.byteLength / 1048576;
  report.heapMatches = heap().length === memory.buffer.byteLength;
  // The state built in the other process, continued here: read it, change it, allocate more.
  report.counter = await lua.doString('counter = counter + 1 return counter');
  report.count = await lua.doString('return #t');
  report.last = await lua.doString('return t[200000]:sub(100)');
  report.more = await lua.doString(`
    for i = 1, 50000 do t[#t + 1] = 'more ' .. i end
    log[#log + 1] = 'continued'
    return #t .. ' ' .. table.concat(log, ',')`);
  report.flushed = mirror.push({ flush: true, timeoutMs: 5000 }).flushed;
  mirror.close();
}
report.grows = grows;
report.endMiB = memory.buffer.byteLength / 1048576;
console.log(JSON.stringify(report));
