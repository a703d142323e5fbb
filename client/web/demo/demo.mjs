// One tab of the demo: life.wasm on its own WebAssembly.Memory, kept by wmd-wasm and replicated
// either to the other tabs of this origin over a BroadcastChannel (the default) or, with
// `?ws=ws://HOST:PORT/&token=TOKEN`, to a wmdd over a WebSocket (connectDaemon; the daemon runs
// --ws-listen, `cluster=` names its --cluster when not wmd).
//
// Messages on the channel (structured clones):
//   { kind: 'patches', from, patches }        every local change round (onDiff)
//   { kind: 'digests', from, digests }        a tab that opened asks for what it lacks
//   { kind: 'states', from, to, pages }       the pages where the asker's digests differ
// Turn taking comes from the module: generation g + 1 is computed by a tab whose role is g % 2,
// once generation g arrived whole (life_ready); tabs of one role compute the same bytes, and a
// wasm2c host on the daemon's segment (wmd-life-host --role 0) takes turns the same way.
import { createMemoryDistributor, onDiff, applyPatches, connectDaemon } from './wmd-wasm/wmd_wasm.mjs';

const params = new URLSearchParams(location.search);
const tabId = params.get('tab') ?? `tab-${Math.random().toString(36).slice(2, 8)}`;
const role = Number(params.get('role') ?? Math.floor(Math.random() * 2));
const daemonUrl = params.get('ws');

// The module's import declares 3 initial and 256 maximum pages of 64 KiB.
const memory = new WebAssembly.Memory({ initial: 3, maximum: 256 });
const { instance } = await WebAssembly.instantiateStreaming(fetch('./wasm/life.wasm'), { env: { memory } });
const life = instance.exports;

let state = createMemoryDistributor(memory, tabId, { scanInterval: 50 });
let session = null;
let link = 'BroadcastChannel';
if (daemonUrl) {
  session = connectDaemon(state, daemonUrl, { token: params.get('token') ?? undefined, cluster: params.get('cluster') ?? undefined });
  link = 'wmdd: catching up';
  session.ready.then(() => (link = `wmdd ${session.peer.peerId}: live`), () => {});
  session.closed.then((error) => (link = `wmdd: ${error ? `closed (${error.message})` : 'left'}`));
} else {
  const channel = new BroadcastChannel('wmd-demo');
  state = onDiff(state, (patches) => channel.postMessage({ kind: 'patches', from: tabId, patches }));
  channel.onmessage = ({ data }) => {
    if (data.kind === 'patches') {
      state = applyPatches(state, data.patches);
    } else if (data.kind === 'digests') {
      // Send the pages where we hold something the asker's digests do not show.
      const theirs = new Map(data.digests.map(({ page, digest }) => [page, digest]));
      const pages = state.digests()
        .filter(({ page, digest }) => theirs.get(page) !== digest)
        .map(({ page }) => state.exportPage(page));
      if (pages.length > 0) channel.postMessage({ kind: 'states', from: tabId, to: data.from, pages });
    } else if (data.kind === 'states' && data.to === tabId) {
      for (const page of data.pages) state.mergePage(page);
    }
  };
  channel.postMessage({ kind: 'digests', from: tabId, digests: state.digests() });
}

let playing = false;
let lastGeneration = Infinity;
setInterval(() => {
  const g = life.life_generation();
  if (playing && g < lastGeneration && life.life_ready(g) && g % 2 === role) {
    life.life_step(role);
    state.scan();
  }
  render();
}, daemonUrl ? 20 : 60);

function render() {
  const g = life.life_generation();
  const ready = life.life_ready(g) === 1;
  document.getElementById('status').textContent =
    `${tabId} (role ${role}, ${link}) generation ${g}${ready ? '' : ' (arriving)'} population ${life.life_population()}`;
  if (!ready) return;
  const width = life.life_width();
  const grid = new Uint8Array(memory.buffer, life.life_grid(), width * life.life_height());
  let text = '';
  for (let i = 0; i < grid.length; ++i) text += (grid[i] ? '#' : '.') + ((i + 1) % width === 0 ? '\n' : '');
  document.getElementById('board').textContent = text;
}

document.getElementById('init').onclick = () => {
  life.life_init(Date.now() >>> 0);
  state.scan();
};
document.getElementById('play').onclick = () => (playing = true);
document.getElementById('stop').onclick = () => (playing = false);

// For tests and the curious (the browser tests drive tabs through this).
window.wmdDemo = {
  tabId,
  init: (seed) => {
    life.life_init(seed);
    state.scan();
  },
  // Play (this tab's role's steps) until generation `last`.
  play: (on, last = Infinity) => {
    playing = on;
    lastGeneration = last;
  },
  generation: () => life.life_generation(),
  ready: () => life.life_ready(life.life_generation()) === 1,
  poke: (offset, value) => (new Uint8Array(memory.buffer)[offset] = value),
  peek: (offset) => new Uint8Array(memory.buffer)[offset],
  size: () => memory.buffer.byteLength,
  // SHA-256 of the whole memory, hex.
  hash: async () => {
    const digest = await crypto.subtle.digest('SHA-256', new Uint8Array(memory.buffer).slice());
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  },
  // With ?ws=: resolves once catch-up with the daemon ran both ways; the session's counters;
  // leaving the daemon (resolves with the reason, 'null' when asked).
  joined: () => session.ready.then(() => true),
  sessionStats: () => ({ ...session.stats, open: session.open }),
  leave: async () => String(await session.close()),
};
render();
