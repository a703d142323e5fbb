// wmd-wasm: wmd's replication engine as WebAssembly, for browsers and Node, no native addon.
//
//  * createMemoryDistributor(memory, peerId, config): the seed library's API (also as its
//    standalone functions: scan(state), onDiff(state, cb), ...), the same as the `wmd` Node
//    package: same patches, digests and page states, byte for byte.
//  * encodeFrame(message) / decodeFrame(bytes, limits): wmd's wire frames (proto/PROTOCOL.md),
//    through the daemon's own codec, to speak to wmdd or any other replica.
//  * connectDaemon(distributor, url, options): the distributor as a peer of a wmdd over a
//    WebSocket (daemon_session.mjs).
//
// Each distributor runs its own instance of the engine module, on a copy of the memory's bytes
// in the engine's memory: a scan copies the memory in (memcpy speed) and hashes it; applying
// remote bytes copies the pages touched in, merges, and copies them back. See README.md.

import { EngineInstance, decodeFrame, digestToHex, encodeFrame } from './wasm_bridge.mjs';

export { decodeFrame, encodeFrame };
export { connectDaemon } from './daemon_session.mjs';

const kDefaultScanIntervalMs = 100;
// The engine's state and its copy of the memory are reserved for the max size in its own 4 GiB
// memory (about 2.5 times the max size; a browser backs only what is written).
const kDefaultMaxSize = 256 * 1024 * 1024;
const kWasmPageBytes = 65536;

const roundListeners = new WeakMap();

function emit(listeners, values) {
  let firstError;
  let failed = false;
  for (const value of values) {
    for (const listener of [...listeners]) {
      try {
        listener(value);
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    }
  }
  if (failed) throw firstError;
}

function destroyedError() {
  const error = new Error('the distributor was destroyed');
  error.code = 'ERR_WMD_DESTROYED';
  return error;
}

export function createMemoryDistributor(memory, peerId, config = {}) {
  if (!(memory instanceof WebAssembly.Memory)) throw new TypeError('memory must be a WebAssembly.Memory');
  if (typeof peerId !== 'string') throw new TypeError('peerId must be a string');
  if (config === null || typeof config !== 'object') throw new TypeError('config must be an object');
  const interval = config.scanInterval ?? kDefaultScanIntervalMs;
  if (typeof interval !== 'number' || !(interval >= 0)) {
    throw new RangeError('config.scanInterval must be a number of milliseconds (0 disables)');
  }

  let engine = new EngineInstance();
  const x = engine.exports;
  const [idOffset, idLength] = engine.scratchStrings(peerId);
  engine.check(x.wmd_create(config.pageSize ?? 8192, config.maxSize ?? kDefaultMaxSize,
    config.maxPatchBytes ?? 1024 * 1024, config.maxMergeGapBytes ?? 0, idOffset, idLength,
    memory.buffer.byteLength), 'createMemoryDistributor');
  const pageSize = x.wmd_page_size();
  const listeners = new Set();
  const rounds = new Set();
  let timer = null;

  const live = () => {
    if (engine === null) throw destroyedError();
    return engine;
  };
  const report = (patches) => {
    emit(listeners, patches);
    if (patches.length > 0) emit(rounds, [patches]);
  };
  const localPatches = () => {
    const patches = [];
    for (let i = 0, n = engine.outboxCount(); i < n; ++i) patches.push(engine.readPatch(i));
    x.wmd_clear_outbox();
    return patches;
  };
  // The module may have grown its memory since the last call; the engine follows (grow-only).
  const followMemory = () => {
    if (memory.buffer.byteLength > x.wmd_size()) {
      engine.check(x.wmd_resize(memory.buffer.byteLength), 'resize');
    }
  };
  // After the engine grew (a peer's size), the memory follows, in whole wasm pages, and the
  // engine takes the memory's size (as every host of a WebAssembly memory does).
  const growMemory = () => {
    const missing = x.wmd_size() - memory.buffer.byteLength;
    if (missing > 0) {
      memory.grow(Math.ceil(missing / kWasmPageBytes));
      followMemory();
    }
  };
  const replica = () => engine.bytes().subarray(x.wmd_replica(), x.wmd_replica() + x.wmd_size());
  const copyPages = (first, end, into) => {
    const begin = first * pageSize;
    const stop = Math.min(end * pageSize, memory.buffer.byteLength, x.wmd_size());
    if (stop <= begin) return;
    const user = new Uint8Array(memory.buffer, begin, stop - begin);
    const ours = replica().subarray(begin, stop);
    if (into === 'engine') ours.set(user);
    else user.set(ours);
  };
  const copyTouched = (into) => {
    const pairs = x.wmd_inbox_touched_pages();
    const count = x.wmd_touched_count();
    const ranges = new Float64Array(x.memory.buffer, pairs, count * 2).slice();
    for (let r = 0; r < count; ++r) copyPages(ranges[2 * r], ranges[2 * r + 1], into);
  };
  // Runs an engine call on the inbox with the touched pages brought in first and written back.
  const onInbox = (call, context) => {
    followMemory();
    copyTouched('engine');
    const code = call();
    const diffs = localPatches();
    if (code !== 0) {
      report(diffs);
      throw engine.error(code, context);
    }
    growMemory();
    copyTouched('memory');
    return diffs;
  };

  const distributor = {
    scan() {
      live();
      followMemory();
      replica().set(new Uint8Array(memory.buffer, 0, Math.min(memory.buffer.byteLength, x.wmd_size())));
      x.wmd_scan();
      const patches = localPatches();
      report(patches);
      return patches;
    },
    onDiff(listener) {
      if (typeof listener !== 'function') throw new TypeError('onDiff needs a function');
      live();
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    applyPatches(patches) {
      live();
      const list = Array.isArray(patches) ? patches.flat(Infinity) : [patches];
      const result = { bytesWritten: 0, pagesTouched: 0, grew: false, diffs: [] };
      for (const patch of list) {
        engine.writePatch(patch);
        const sizeBefore = x.wmd_size();
        const diffs = onInbox(() => x.wmd_apply_inbox(), 'applyPatches');
        result.bytesWritten += x.wmd_applied_bytes();
        result.pagesTouched += x.wmd_applied_pages();
        result.grew ||= x.wmd_size() > sizeBefore;
        result.diffs.push(...diffs);
      }
      report(result.diffs);
      return result;
    },
    getVectorClock() {
      return this.hello().clock;
    },
    // Catch-up, as the Node package: digests of the pages not in the never-written state,
    // a page's full state, and merging a peer's.
    digests() {
      live().exports.wmd_digests(0);
      return engine.drainOutbox()[0].digests;
    },
    exportPage(page) {
      live();
      followMemory();
      copyPages(page, page + 1, 'engine');
      const code = x.wmd_export_page(page);
      const messages = engine.drainOutbox();
      const diffs = messages.filter((m) => m.type === 'patch').map(({ type, ...patch }) => patch);
      report(diffs);
      engine.check(code, 'exportPage');
      return messages[messages.length - 1].pages[0];
    },
    mergePage(state) {
      live();
      engine.writePageStates([state]);
      const sizeBefore = x.wmd_size();
      const diffs = onInbox(() => x.wmd_merge_inbox(), 'mergePage');
      report(diffs);
      return { bytesTaken: x.wmd_merged_bytes(), grew: x.wmd_size() > sizeBefore, diffs };
    },
    resizeMemory(bytes) {
      live();
      requireSize(bytes);
      if (bytes > memory.buffer.byteLength) {
        memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / kWasmPageBytes));
      }
      engine.check(x.wmd_resize(Math.max(bytes, memory.buffer.byteLength)), 'resizeMemory');
      return x.wmd_size();
    },
    destroy() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      listeners.clear();
      rounds.clear();
      engine = null;  // the instance and its memory go with the last reference
    },

    // --- speaking wmd frames (to wmdd, or any replica) -----------------------------------
    // Our handshake message ({ type: 'hello', ... }; encodeFrame it).
    hello(cluster = '') {
      const [offset, length] = live().scratchStrings(cluster);
      x.wmd_hello(offset, length);
      return engine.drainOutbox()[0];
    },
    // A received frame, decoded by the daemon's codec under this replica's limits and acted on:
    // patches applied, page states merged, growth followed. Returns the message; local changes
    // absorbed on the way go to the onDiff listeners (send them too).
    receiveFrame(frame, maxFrameBytes) {
      live();
      x.wmd_clear_outbox();
      engine.decode(frame, { pageSize, maxSize: x.wmd_max_size(), maxFrameBytes });
      const message = engine.readMessage(0);
      if (message.type === 'patch' || message.type === 'pageStates') {
        engine.check(x.wmd_take_outbox(0), 'receiveFrame');
        x.wmd_clear_outbox();
        const call = message.type === 'patch' ? () => x.wmd_apply_inbox() : () => x.wmd_merge_inbox();
        report(onInbox(call, 'receiveFrame'));
      } else {
        x.wmd_clear_outbox();
        if (message.type === 'growth' || message.type === 'hello' || message.type === 'digests') {
          if (message.size > x.wmd_size()) {
            engine.check(x.wmd_resize(message.size), 'receiveFrame');
            growMemory();
          }
        }
      }
      return message;
    },
    get zeroPageDigest() {
      return digestToHex(live().exports.wmd_zero_page_digest());
    },

    get peerId() {
      return peerId;
    },
    get pageSize() {
      return pageSize;
    },
    get maxSize() {
      return live().exports.wmd_max_size();
    },
    get size() {
      return live().exports.wmd_size();
    },
  };
  roundListeners.set(distributor, rounds);

  if (interval !== 0) {
    timer = setInterval(() => {
      try {
        distributor.scan();
      } catch (error) {
        if (typeof config.onError === 'function') config.onError(error);
        else throw error;
      }
    }, interval);
    timer.unref?.();
  }
  return distributor;
}

function requireSize(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) {
    throw new TypeError('a size must be a non-negative number of bytes');
  }
}

// --- the seed library's standalone functions: the distributor is the state ----------------

function distributorOf(state) {
  if (!roundListeners.has(state)) throw new TypeError('state must be what createMemoryDistributor returned');
  return state;
}

export function scan(state) {
  return { state, patches: distributorOf(state).scan() };
}

// callback(patches) for each round of local patches (timer scans included).
export function onDiff(state, callback) {
  if (typeof callback !== 'function') throw new TypeError('onDiff needs a function');
  roundListeners.get(distributorOf(state)).add(callback);
  return state;
}

export function applyPatches(state, patches) {
  distributorOf(state).applyPatches(patches);
  return state;
}

export function getVectorClock(state) {
  return distributorOf(state).getVectorClock();
}

export function resizeMemory(state, newBuffer) {
  const bytes = typeof newBuffer === 'number' ? newBuffer : newBuffer?.byteLength;
  if (typeof bytes !== 'number') throw new TypeError('resizeMemory needs an ArrayBuffer or a size');
  distributorOf(state).resizeMemory(bytes);
  return state;
}

export function destroy(state) {
  distributorOf(state).destroy();
}
