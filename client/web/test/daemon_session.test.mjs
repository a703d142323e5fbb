// connectDaemon without a browser or a daemon: two wmd-wasm distributors, each running a
// session, joined by an in-memory socket pair (what wmdd does on its side is the same protocol,
// PROTOCOL.md section 5). The browser test (demo/daemon.test.mjs) runs it against real wmdd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wmdWasm, rng } from './helpers.mjs';

const { createMemoryDistributor, connectDaemon, encodeFrame, decodeFrame } = wmdWasm;
const kPage = 8192;

// One end of an in-memory WebSocket: what one side sends arrives, as one binary message, at the
// other side's onmessage on a later turn of the event loop. `sent` keeps every frame.
class FakeSocket {
  constructor() {
    this.readyState = 0;
    this.sent = [];
    this.other = null;
    this.url = null;
  }

  send(data) {
    assert.equal(this.readyState, 1, 'send on a socket that is not open');
    const copy = new Uint8Array(data).slice();
    this.sent.push(copy);
    const other = this.other;
    setImmediate(() => {
      if (other.readyState === 1) other.onmessage?.({ data: copy.buffer });
    });
  }

  close(code = 1000) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    const other = this.other;
    setImmediate(() => {
      this.onclose?.({ code });
      if (other.readyState !== 3) {
        other.readyState = 3;
        other.onclose?.({ code });
      }
    });
  }
}

// A connected pair; `constructorOf(end)` is a WebSocket constructor that hands out that end.
function socketPair() {
  const left = new FakeSocket();
  const right = new FakeSocket();
  left.other = right;
  right.other = left;
  setImmediate(() => {
    for (const end of [left, right]) end.readyState = 1;
    for (const end of [left, right]) end.onopen?.();
  });
  const constructorOf = (end) => function FakeWebSocket(url, protocol) {
    end.url = url;
    end.protocol = protocol;
    return end;
  };
  return { left, right, constructorOf };
}

const memoryOf = (pages) => new WebAssembly.Memory({ initial: pages, maximum: 1024 });
const bytesOf = (memory) => new Uint8Array(memory.buffer);
const sameBytes = (a, b) => Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer)) === 0;
const decode = (frame) => decodeFrame(frame, { pageSize: kPage, maxSize: 1 << 30 });
const typeOf = (frame) => decode(frame).type;

async function until(what, condition, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('two sessions catch up in chunks below the frame limit, then patches flow live both ways', async () => {
  const random = rng(12);
  // A: 160 wasm pages (1280 engine pages), one byte in each: more digests than one frame holds.
  const memoryA = memoryOf(160);
  const memoryB = memoryOf(4);
  for (let page = 0; page < 1280; ++page) bytesOf(memoryA)[page * kPage + (random() % kPage)] = 1 + (page % 250);
  bytesOf(memoryB).fill(7, 1000, 3000);  // B has its own page 0 bytes
  const a = createMemoryDistributor(memoryA, 'tab-a', { scanInterval: 0 });
  const b = createMemoryDistributor(memoryB, 'tab-b', { scanInterval: 0 });
  a.scan();
  b.scan();

  const maxFrameBytes = 2 * kPage + 1024;
  const pair = socketPair();
  const options = { cluster: 'c1', token: 'se+cret', maxFrameBytes, heartbeatIntervalMs: 20 };
  const sa = connectDaemon(a, 'ws://127.0.0.1:1/', { ...options, WebSocket: pair.constructorOf(pair.left) });
  const sb = connectDaemon(b, 'ws://127.0.0.1:2/path', { ...options, WebSocket: pair.constructorOf(pair.right) });
  assert.equal(pair.left.url, 'ws://127.0.0.1:1/?token=se%2Bcret');
  assert.equal(pair.left.protocol, 'wmd');
  await Promise.all([sa.ready, sb.ready]);
  assert.equal(sa.peer.peerId, 'tab-b');
  assert.equal(sb.peer.peerId, 'tab-a');

  // Caught up: B grew to A's size and holds A's pages; A holds B's page 0 bytes (merged per byte).
  assert.equal(memoryB.buffer.byteLength, memoryA.buffer.byteLength);
  assert.ok(sameBytes(memoryA, memoryB));
  assert.equal(bytesOf(memoryA)[2000], 7);
  for (const end of [pair.left, pair.right]) {
    assert.equal(typeOf(end.sent[0]), 'hello', 'Hello goes first');
    assert.ok(end.sent.every((f) => f.length - 5 <= maxFrameBytes), 'every frame within the limit');
  }
  const digestFrames = pair.left.sent.filter((f) => typeOf(f) === 'digests');
  assert.ok(digestFrames.length >= 2, `A's digests split in ${digestFrames.length} frames`);
  const chunks = digestFrames.map((f) => decode(f));
  assert.deepEqual(chunks.map((c) => c.last), chunks.map((_, i) => i === chunks.length - 1));
  assert.equal(chunks.flatMap((c) => c.digests).length, 1280);
  assert.ok(sa.stats.pagesSent >= 1279 && sb.stats.pagesSent === 1, JSON.stringify([sa.stats, sb.stats]));

  // Live: concurrent writes to different bytes of one page both survive, a growth crosses.
  bytesOf(memoryA)[50000] = 0xaa;
  bytesOf(memoryB)[50001] = 0xbb;
  a.scan();
  b.scan();
  memoryB.grow(2);
  bytesOf(memoryB)[memoryB.buffer.byteLength - 1] = 0xcc;
  b.scan();
  await until('the live writes to cross', () => bytesOf(memoryA)[50001] === 0xbb && bytesOf(memoryB)[50000] === 0xaa &&
    memoryA.buffer.byteLength === memoryB.buffer.byteLength && sameBytes(memoryA, memoryB));
  assert.ok(sa.stats.patchesSent >= 1 && sb.stats.patchesSent >= 2);

  // Heartbeats: requests sent by each side, every one answered.
  await until('heartbeats both ways', () => [pair.left, pair.right].every((end) =>
    end.sent.some((f) => typeOf(f) === 'heartbeat' && !decode(f).reply) &&
    end.sent.some((f) => typeOf(f) === 'heartbeat' && decode(f).reply)));

  assert.equal(await sa.close(), null);
  assert.equal((await sb.closed).code, 'ERR_WMD_CLOSED');  // the other side saw it close
  assert.equal(sa.open, false);
  // After close, local changes are no longer sent; the distributor keeps running.
  const sentBefore = pair.left.sent.length;
  bytesOf(memoryA)[0] = 1;
  a.scan();
  assert.equal(pair.left.sent.length, sentBefore);
  a.destroy();
  b.destroy();
});

// A raw peer on the other end of the pair: sends what the test says, records what it gets.
function rawPeer(distributor, options = {}) {
  const pair = socketPair();
  const received = [];
  pair.right.onmessage = ({ data }) => received.push(new Uint8Array(data));
  const session = connectDaemon(distributor, 'ws://127.0.0.1:9/', { WebSocket: pair.constructorOf(pair.left), ...options });
  const send = (frame) => pair.right.send(frame);
  return { session, received, send, pair };
}

function peerHello(overrides = {}) {
  return encodeFrame({ type: 'hello', protocolVersion: 1, cluster: 'wmd', peerId: 'daemon', pageSize: kPage,
    size: 65536, lamport: 0, clock: {}, ...overrides });
}

test('a refused Hello, a frame before Hello, a malformed or oversized frame end only the session, with an Error frame', async () => {
  const memory = memoryOf(1);
  const d = createMemoryDistributor(memory, 'tab', { scanInterval: 0 });
  bytesOf(memory)[10] = 5;
  d.scan();
  const hello = d.hello('');
  const cases = [
    ['cluster', [peerHello({ cluster: 'other' })], 'ERR_WMD_CLUSTER_MISMATCH', 17],
    ['page size', [peerHello({ pageSize: 4096 })], 'ERR_WMD_PAGE_SIZE_MISMATCH', 9],
    ['before Hello', [encodeFrame({ type: 'catchupDone', pagesSent: 0 })], 'ERR_WMD_MALFORMED', 14],
    ['second Hello', [peerHello(), peerHello()], 'ERR_WMD_MALFORMED', 14],
    ['garbage', [peerHello(), new Uint8Array([3, 0, 0, 0, 2, 1, 2, 3])], 'ERR_WMD_INVALID_PEER_ID', 3],
    ['truncated', [peerHello(), new Uint8Array([1, 0, 0, 0, 3, 0])], 'ERR_WMD_TRUNCATED', 13],
    ['unknown type', [peerHello(), new Uint8Array([0, 0, 0, 0, 42])], 'ERR_WMD_UNKNOWN_MESSAGE_TYPE', 15],
    ['too large', [peerHello(), new Uint8Array([0, 0, 0, 2, 2])], 'ERR_WMD_FRAME_TOO_LARGE', 12],
  ];
  for (const [what, frames, code, wire] of cases) {
    const peer = rawPeer(d, { maxFrameBytes: 1 << 20 });
    await until(`${what}: open`, () => peer.pair.right.readyState === 1);
    for (const frame of frames) peer.send(frame);
    const error = await peer.session.closed;
    assert.equal(error?.code, code, what);
    await assert.rejects(peer.session.ready);
    await until(`${what}: the Error frame`, () => peer.received.some((f) => typeOf(f) === 'error'));
    const last = decode(peer.received.at(-1));
    assert.equal(last.type, 'error', what);
    assert.equal(last.code, wire, what);
    assert.equal(peer.pair.left.readyState, 3, what);
  }
  // None of it changed the replica.
  assert.deepEqual(d.hello(''), hello);
  assert.equal(bytesOf(memory)[10], 5);

  // The daemon's Error frame ends the session without an answer.
  const refused = rawPeer(d);
  await until('open', () => refused.pair.right.readyState === 1);
  refused.send(encodeFrame({ type: 'error', code: 17, message: 'cluster mismatch' }));
  const error = await refused.session.closed;
  assert.equal(error.code, 'ERR_WMD_PEER_ERROR');
  assert.equal(error.peerCode, 17);
  assert.ok(refused.received.every((f) => typeOf(f) !== 'error'));
  d.destroy();
});

test('a silent peer is closed by the heartbeat timeout; a split message is reassembled', async () => {
  const memory = memoryOf(1);
  const d = createMemoryDistributor(memory, 'tab', { scanInterval: 0 });
  const silent = rawPeer(d, { heartbeatIntervalMs: 10, heartbeatTimeoutMs: 100 });
  await until('open', () => silent.pair.right.readyState === 1);
  silent.send(peerHello());
  const error = await silent.session.closed;
  assert.equal(error.code, 'ERR_WMD_HEARTBEAT_TIMEOUT');
  await until('the Error frame', () => silent.received.some((f) => typeOf(f) === 'error'));
  assert.equal(decode(silent.received.at(-1)).code, 20);

  // Frames split across messages and two frames in one message (allowed towards a daemon;
  // the session accepts them from any peer too).
  const split = rawPeer(d);
  await until('open', () => split.pair.right.readyState === 1);
  const patch = encodeFrame({ type: 'patch', origin: 'daemon', seq: 1, lamport: 1, runs: [{ offset: 100, bytes: new Uint8Array([9, 8]) }] });
  const both = new Uint8Array([...peerHello(), ...patch]);
  split.send(both.subarray(0, 3));
  split.send(both.subarray(3, both.length - 4));
  split.send(both.subarray(both.length - 4));
  split.send(encodeFrame({ type: 'digests', size: 65536, last: true, replyRequested: false, digests: [] }));
  split.send(encodeFrame({ type: 'catchupDone', pagesSent: 0 }));
  await split.session.ready;
  assert.deepEqual([...bytesOf(memory).subarray(100, 102)], [9, 8]);
  assert.equal(split.session.peer.peerId, 'daemon');
  await split.session.close();
  d.destroy();
});
