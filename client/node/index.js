'use strict';
// wmd for Node: replicate a WebAssembly.Memory.
//
// Two ways in:
//  * createMemoryDistributor(memory, peerId, config): the seed library's API over wmd's
//    replication engine, in process. You carry the patches between peers yourself. The returned
//    distributor has methods (d.scan(), ...) and is also the `state` of the seed's standalone
//    functions (scan(state), onDiff(state, cb), ...).
//  * attachSegment(memory, '/NAME', options): mirror the memory into a wmd segment that a local
//    wmdd replicates to other machines. push() copies the bytes the module changed into the
//    segment, pull() copies the bytes that peers changed back into the memory.
// See README.md for the mapping from the seed library and for the mirror's rules.

const path = require('node:path');

function loadAddon() {
  const candidates = [];
  if (process.env.WMD_NODE_ADDON) candidates.push(path.resolve(process.env.WMD_NODE_ADDON));
  candidates.push(path.join(__dirname, 'wmd.node'));
  const failures = [];
  for (const candidate of candidates) {
    try {
      return require(candidate);
    } catch (error) {
      failures.push(`${candidate}: ${error.message}`);
    }
  }
  throw new Error(
    'wmd: cannot load the native addon (build it with `cmake --build build --target wmd_node_package`, ' +
      'then use the package in build/node/wmd, or set WMD_NODE_ADDON):\n  ' + failures.join('\n  '));
}

const addon = loadAddon();

// The seed library scanned every 100 ms unless told otherwise (0 disables the timer).
const kDefaultScanIntervalMs = 100;

// Per-round listeners of the seed's onDiff(state, callback), by distributor.
const roundListeners = new WeakMap();

// Calls every listener with every patch; a throwing listener does not stop the others, and
// the first error is rethrown once all have run.
function emit(listeners, patches) {
  let firstError;
  let failed = false;
  for (const patch of patches) {
    for (const listener of [...listeners]) {
      try {
        listener(patch);
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    }
  }
  if (failed) throw firstError;
}

function createMemoryDistributor(memory, peerId, config = {}) {
  if (config === null || typeof config !== 'object') throw new TypeError('config must be an object');
  const native = new addon.Distributor(memory, peerId, config);
  const listeners = new Set();
  const rounds = new Set();
  let timer = null;
  const report = (patches) => {
    emit(listeners, patches);
    if (patches.length > 0) emit(rounds, [patches]);
  };

  const distributor = {
    // Detects the bytes changed since the last scan; returns them as patches (also given to
    // the onDiff listeners).
    scan() {
      const patches = native.scan();
      report(patches);
      return patches;
    },
    // Registers a listener for every locally produced patch; returns a function that removes it.
    onDiff(listener) {
      if (typeof listener !== 'function') throw new TypeError('onDiff needs a function');
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    // Applies remote patches (one or an array), per-byte last-writer-wins.
    applyPatches(patches) {
      const result = native.applyPatches(flattenPatches(patches));
      report(result.diffs);
      return result;
    },
    getVectorClock() {
      return native.getVectorClock();
    },
    // Catch-up (beyond the seed): compare digests with a peer, exchange the states of the pages
    // that differ, merge them. Local changes absorbed on the way go to the onDiff listeners.
    digests() {
      return native.digests();
    },
    exportPage(page) {
      const { diffs, ...state } = native.exportPage(page);
      report(diffs);
      return state;
    },
    mergePage(state) {
      const result = native.mergePage(state);
      report(result.diffs);
      return result;
    },
    // Grows the memory (memory.grow, whole 64 KiB pages) and the tracked size; grow-only.
    resizeMemory(bytes) {
      return native.resizeMemory(bytes);
    },
    destroy() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      listeners.clear();
      rounds.clear();
      native.destroy();
    },
    get peerId() {
      return native.peerId;
    },
    get pageSize() {
      return native.pageSize;
    },
    get maxSize() {
      return native.maxSize;
    },
    get size() {
      return native.size;
    },
  };

  roundListeners.set(distributor, rounds);

  // Scans on a timer, as the seed library did; the timer never keeps the process alive.
  const interval = config.scanInterval ?? kDefaultScanIntervalMs;
  if (interval !== 0) {
    if (typeof interval !== 'number' || !(interval > 0)) {
      native.destroy();
      throw new RangeError('config.scanInterval must be a positive number of milliseconds');
    }
    timer = setInterval(() => {
      try {
        distributor.scan();
      } catch (error) {
        if (typeof config.onError === 'function') config.onError(error);
        else throw error;
      }
    }, interval);
    timer.unref();
  }
  return distributor;
}

// applyPatches takes one patch, an array of them, or arrays of those (what a seed onDiff callback
// received, sent on as it was).
function flattenPatches(patches) {
  return Array.isArray(patches) ? patches.flat(Infinity) : patches;
}

// --- the seed library's standalone functions: the distributor is the state ----------------

function distributorOf(state) {
  if (!roundListeners.has(state)) {
    throw new TypeError('state must be what createMemoryDistributor returned');
  }
  return state;
}

// { state, patches }: the changes since the last scan (also given to the onDiff callbacks).
function scan(state) {
  const patches = distributorOf(state).scan();
  return { state, patches };
}

// Calls callback(patches) with each round of local patches: every scan (the timer's too) that
// found changes, and local changes absorbed before remote bytes landed.
function onDiff(state, callback) {
  if (typeof callback !== 'function') throw new TypeError('onDiff needs a function');
  roundListeners.get(distributorOf(state)).add(callback);
  return state;
}

function applyPatches(state, patches) {
  distributorOf(state).applyPatches(patches);
  return state;
}

function getVectorClock(state) {
  return distributorOf(state).getVectorClock();
}

// After the module grew its memory (memory.grow), with the memory's new buffer, or a size in
// bytes to grow to. Returns the state.
function resizeMemory(state, newBuffer) {
  const bytes = typeof newBuffer === 'number' ? newBuffer : newBuffer?.byteLength;
  if (typeof bytes !== 'number') throw new TypeError('resizeMemory needs an ArrayBuffer or a size');
  distributorOf(state).resizeMemory(bytes);
  return state;
}

function destroy(state) {
  distributorOf(state).destroy();
}

function attachSegment(memory, name, options = {}) {
  if (typeof addon.SegmentMirror !== 'function') {
    throw new Error('wmd: this build of the addon has no segment support (libwmd was not built)');
  }
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const native = new addon.SegmentMirror(memory, name, options);
  return {
    push(pushOptions = {}) {
      return native.push(pushOptions);
    },
    pull(pullOptions = {}) {
      return native.pull(pullOptions);
    },
    sync(syncOptions = {}) {
      const pushed = native.push(syncOptions);
      const pulled = native.pull(syncOptions);
      return { pushed, pulled };
    },
    flush(timeoutMs = 1000) {
      return native.flush(timeoutMs);
    },
    waitRemote(timeoutMs = 1000) {
      return native.waitRemote(timeoutMs);
    },
    waitRemoteAsync(timeoutMs = 1000) {
      return native.waitRemoteAsync(timeoutMs);
    },
    status() {
      return native.status();
    },
    close() {
      native.close();
    },
    get name() {
      return native.name;
    },
    get pageSize() {
      return native.pageSize;
    },
    get size() {
      return native.size;
    },
    get closed() {
      return native.closed;
    },
  };
}

module.exports = {
  createMemoryDistributor,
  scan,
  onDiff,
  applyPatches,
  getVectorClock,
  resizeMemory,
  destroy,
  attachSegment,
};
