// The seed library's README usage, as it was written there apart from the package name (the
// tests run it against the `wmd` addon package and the `wmd-wasm` package, each installed as a
// dependency, replacing 'wmd' below). It prints one JSON line the tests check.
import {
  createMemoryDistributor,
  scan,
  applyPatches,
  onDiff,
  getVectorClock,
  resizeMemory,
  destroy,
} from 'wmd';

// Two peers, each with its own WebAssembly memory.
const memoryA = new WebAssembly.Memory({ initial: 1, maximum: 16 });
const memoryB = new WebAssembly.Memory({ initial: 1, maximum: 16 });

// Peer A scans on its own every 100 ms (the default); peer B only when asked.
let peerA = createMemoryDistributor(memoryA, 'peer-a', { pageSize: 8192 });
let peerB = createMemoryDistributor(memoryB, 'peer-b', { pageSize: 8192, scanInterval: 0 });

// Send every diff of A to B (any transport: WebSocket, WebRTC, BroadcastChannel).
peerA = onDiff(peerA, (patches) => {
  peerB = applyPatches(peerB, patches);
});

// The module writes into A's memory; the next automatic scan sends it.
new Uint8Array(memoryA.buffer).set([1, 2, 3], 0);
await new Promise((resolve) => setTimeout(resolve, 300));

// B writes and scans by hand.
new Uint8Array(memoryB.buffer)[100] = 42;
const result = scan(peerB);
peerB = result.state;
peerA = applyPatches(peerA, result.patches);

// A's module grows its memory and writes past the old end.
memoryA.grow(1);
resizeMemory(peerA, memoryA.buffer);
new Uint8Array(memoryA.buffer)[70000] = 7;
peerA = scan(peerA).state;

console.log(JSON.stringify({
  a: [...new Uint8Array(memoryA.buffer, 0, 4)],
  b: [...new Uint8Array(memoryB.buffer, 0, 4)],
  a100: new Uint8Array(memoryA.buffer)[100],
  b70000: new Uint8Array(memoryB.buffer)[70000],
  sizeB: memoryB.buffer.byteLength,
  clockA: getVectorClock(peerA),
  clockB: getVectorClock(peerB),
}));

destroy(peerA);
destroy(peerB);
