// connectDaemon: a wmd-wasm distributor as a peer of one wmdd, over a WebSocket
// (`wmdd --ws-listen`, proto/PROTOCOL.md sections 5 and 8).
//
// The session speaks the protocol of any peer connection: Hello both ways, then one catch-up
// round in each direction (our digests, in chunks below the frame limit; the page states the
// daemon lacks; CatchupDone), heartbeats answered and sent, every local change round of the
// distributor (onDiff) sent as a Patch frame, and every frame received handed to
// d.receiveFrame (patches applied, page states merged, growth followed).
//
// Ownership: the session holds the socket it opened and one onDiff listener on the distributor;
// close() (or the connection ending) drops both and leaves the distributor running. It does not
// reconnect: call connectDaemon again (a new session runs catch-up again). Single-threaded, as
// everything on a JavaScript event loop.

import { encodeFrame, errcNumber, kDefaultMaxFrameBytes, kFrameHeaderBytes } from './wasm_bridge.mjs';

const kHeartbeatIntervalMs = 1000;  // wmdd's defaults (--heartbeat-interval/-timeout)
const kHeartbeatTimeoutMs = 5000;
// Upper bounds of encoded sizes (PROTOCOL.md section 4), for splitting catch-up frames.
const kDigestEntryBytes = 18;
const kDigestsOverheadBytes = 32;
const kPageStateOverheadBytes = 20;
const kVersionRunBytes = 25;
const kPeerEntryBytes = 65;

function sessionError(code, message) {
  const error = new Error(message);
  error.code = code;
  return error;
}

function withToken(url, token) {
  if (token === undefined) return String(url);
  const withQuery = new URL(String(url));
  withQuery.searchParams.set('token', token);
  return withQuery.toString();
}

// Splits a received byte stream into whole frames. A frame whose body exceeds the limit is
// refused from its header, before it is buffered.
class FrameSplitter {
  constructor(maxFrameBytes) {
    this.maxFrameBytes = maxFrameBytes;
    this.buffer = new Uint8Array(0);
  }

  push(chunk) {
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer);
    joined.set(chunk, this.buffer.length);
    const frames = [];
    let at = 0;
    while (joined.length - at >= kFrameHeaderBytes) {
      const body = new DataView(joined.buffer, at, 4).getUint32(0, true);
      if (body > this.maxFrameBytes) {
        throw sessionError('ERR_WMD_FRAME_TOO_LARGE', `a frame of ${body} bytes (limit ${this.maxFrameBytes})`);
      }
      const end = at + kFrameHeaderBytes + body;
      if (end > joined.length) break;
      frames.push(joined.subarray(at, end));
      at = end;
    }
    this.buffer = joined.slice(at);
    return frames;
  }
}

// Groups items into frames whose estimated size stays below the limit.
function chunked(items, costOf, budget) {
  const chunks = [];
  let current = [];
  let used = 0;
  for (const item of items) {
    const cost = costOf(item);
    if (current.length > 0 && used + cost > budget) {
      chunks.push(current);
      current = [];
      used = 0;
    }
    current.push(item);
    used += cost;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * Joins `distributor` (a wmd-wasm createMemoryDistributor) to the wmdd at `url`
 * (`ws://HOST:PORT/` or `wss://...`).
 *
 * options: cluster (the daemons' --cluster, default 'wmd', as wmdd's), token (the content of wmdd's
 * --ws-token-file; put in the URL's `token` query parameter), maxFrameBytes (the daemons'
 * --max-frame, default 16 MiB), WebSocket (a constructor: the browser's by default; Node 20
 * has none, pass one), heartbeatIntervalMs / heartbeatTimeoutMs (1000 / 5000, as wmdd's),
 * onError(error) (a failure that ended the session).
 *
 * Returns { ready, closed, close(), peer, stats }: `ready` resolves once the catch-up round
 * ran both ways (the daemon's CatchupDone received, ours sent) and rejects when the session
 * ends before; `closed` resolves (never rejects) with the error that ended the session, or null
 * after close(); `peer` is the daemon's Hello once received.
 */
export function connectDaemon(distributor, url, options = {}) {
  if (distributor === null || typeof distributor?.receiveFrame !== 'function') {
    throw new TypeError('connectDaemon needs a wmd-wasm distributor');
  }
  const cluster = options.cluster ?? 'wmd';
  const maxFrameBytes = options.maxFrameBytes ?? kDefaultMaxFrameBytes;
  const intervalMs = options.heartbeatIntervalMs ?? kHeartbeatIntervalMs;
  const timeoutMs = options.heartbeatTimeoutMs ?? kHeartbeatTimeoutMs;
  const Socket = options.WebSocket ?? globalThis.WebSocket;
  if (typeof Socket !== 'function') {
    throw new TypeError('no WebSocket: pass options.WebSocket (Node 20 has no global one)');
  }
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 2 * distributor.pageSize) {
    throw new RangeError('options.maxFrameBytes must be an integer of at least two pages');
  }

  const socket = new Socket(withToken(url, options.token), 'wmd');
  socket.binaryType = 'arraybuffer';
  const splitter = new FrameSplitter(maxFrameBytes);
  const ours = distributor.hello(cluster);
  const stats = { framesSent: 0, framesReceived: 0, patchesSent: 0, pagesSent: 0, pagesReceived: 0 };
  let peer = null;
  let peerDigests = new Map();  // the daemon's digest round being received: page -> digest
  let ended = false;
  let sentCatchupDone = false;
  let receivedCatchupDone = false;
  let lastHeard = Date.now();
  let heartbeatToken = 0n;
  let unsubscribe = () => {};

  let resolveReady;
  let rejectReady;
  const ready = new Promise((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => {});  // observed through `closed` as well
  let resolveClosed;
  const closed = new Promise((resolve) => (resolveClosed = resolve));

  const send = (message) => {
    const frame = encodeFrame(message);
    if (frame.length - kFrameHeaderBytes > maxFrameBytes) {
      throw sessionError('ERR_WMD_FRAME_TOO_LARGE', `a ${message.type} frame beyond the frame limit`);
    }
    socket.send(frame);
    stats.framesSent += 1;
  };
  const checkReady = () => {
    if (sentCatchupDone && receivedCatchupDone) resolveReady();
  };

  const end = (error) => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeats);
    unsubscribe();
    // Say why before closing, as every peer does (5.4), unless the daemon ended it.
    if (error && error.wmdCode !== undefined && socket.readyState === 1) {
      try {
        send({ type: 'error', code: error.wmdCode, message: error.message.slice(0, 200) });
      } catch {
        // closing anyway
      }
    }
    try {
      socket.close(1000);
    } catch {
      // already closing
    }
    rejectReady(error ?? sessionError('ERR_WMD_CLOSED', 'the session was closed'));
    if (error && typeof options.onError === 'function') options.onError(error);
    resolveClosed(error ?? null);
  };
  const fail = (code, message) => {
    const error = sessionError(`ERR_WMD_${code.toUpperCase()}`, message);
    error.wmdCode = errcNumber(code);
    end(error);
  };

  // Catch-up, our side: the pages where we hold what the daemon's digest round lacks.
  const sendPageStates = (theirs) => {
    const zero = distributor.zeroPageDigest;
    const pages = distributor.digests()
      .filter(({ page, digest }) => digest !== zero && theirs.get(page) !== digest)
      .map(({ page }) => distributor.exportPage(page));
    const cost = (state) => distributor.pageSize + kPageStateOverheadBytes +
      state.versions.length * (kVersionRunBytes + kPeerEntryBytes);
    for (const chunk of chunked(pages, cost, maxFrameBytes - 16)) send({ type: 'pageStates', pages: chunk });
    send({ type: 'catchupDone', pagesSent: pages.length });
    stats.pagesSent += pages.length;
    sentCatchupDone = true;
    checkReady();
  };
  const sendDigests = () => {
    const digests = distributor.digests();
    const chunks = chunked(digests, () => kDigestEntryBytes, maxFrameBytes - kDigestsOverheadBytes);
    if (chunks.length === 0) chunks.push([]);
    chunks.forEach((chunk, i) => send({
      type: 'digests', size: distributor.size, last: i === chunks.length - 1, replyRequested: false, digests: chunk,
    }));
  };

  const onFrame = (frame) => {
    stats.framesReceived += 1;
    if (peer === null && frame[4] !== 1 && frame[4] !== 8) {
      fail('malformed', 'a frame before the Hello');
      return;
    }
    let message;
    try {
      message = distributor.receiveFrame(frame, maxFrameBytes);
    } catch (error) {
      const name = String(error.code ?? '').replace(/^ERR_WMD_/, '').toLowerCase();
      error.wmdCode = errcNumber(name) ?? errcNumber('malformed');
      end(error);
      return;
    }
    switch (message.type) {
      case 'hello':
        if (peer !== null) return fail('malformed', 'a second Hello');
        if (message.protocolVersion !== ours.protocolVersion) {
          return fail('protocol_version_mismatch', `protocol version ${message.protocolVersion}`);
        }
        if (message.cluster !== cluster) return fail('cluster_mismatch', `cluster '${message.cluster}'`);
        if (message.pageSize !== distributor.pageSize) {
          return fail('page_size_mismatch', `page size ${message.pageSize}`);
        }
        peer = message;
        sendDigests();
        return;
      case 'digests':
        for (const { page, digest } of message.digests) peerDigests.set(page, digest);
        if (message.last) {
          const theirs = peerDigests;
          peerDigests = new Map();
          sendPageStates(theirs);
          if (message.replyRequested) sendDigests();
        }
        return;
      case 'pageStates':
        stats.pagesReceived += message.pages.length;
        return;
      case 'catchupDone':
        receivedCatchupDone = true;
        checkReady();
        return;
      case 'heartbeat':
        if (!message.reply) send({ type: 'heartbeat', token: message.token, reply: true });
        return;
      case 'error': {
        const error = sessionError('ERR_WMD_PEER_ERROR', `the daemon closed the session: ${message.message} (code ${message.code})`);
        error.peerCode = message.code;
        end(error);
        return;
      }
      default:
        return;  // patches and growth: receiveFrame did the work
    }
  };

  socket.onopen = () => {
    lastHeard = Date.now();
    try {
      send({ type: 'hello', ...distributor.hello(cluster) });
    } catch (error) {
      end(error);
      return;
    }
    // Every local change round goes out as it is made (catch-up covers the ones made earlier).
    unsubscribe = distributor.onDiff((patch) => {
      if (ended) return;
      try {
        send({ type: 'patch', ...patch });
        stats.patchesSent += 1;
      } catch (error) {
        end(error);
      }
    });
  };
  socket.onmessage = (event) => {
    if (ended) return;
    lastHeard = Date.now();
    if (typeof event.data === 'string') {
      fail('malformed', 'a text message');
      return;
    }
    let frames;
    try {
      frames = splitter.push(new Uint8Array(event.data));
    } catch (error) {
      error.wmdCode = errcNumber('frame_too_large');
      end(error);
      return;
    }
    for (const frame of frames) {
      if (ended) return;
      try {
        onFrame(frame);
      } catch (error) {
        end(error);
      }
    }
  };
  socket.onerror = () => {};  // the close event that follows says how it ended
  socket.onclose = (event) => {
    if (!ended) end(sessionError('ERR_WMD_CLOSED', `the connection closed (code ${event.code})`));
  };

  const heartbeats = setInterval(() => {
    if (ended || socket.readyState !== 1) return;
    if (Date.now() - lastHeard > timeoutMs) {
      fail('heartbeat_timeout', `nothing received for ${timeoutMs} ms`);
      return;
    }
    heartbeatToken += 1n;
    try {
      send({ type: 'heartbeat', token: heartbeatToken, reply: false });
    } catch (error) {
      end(error);
    }
  }, intervalMs);

  return {
    ready,
    closed,
    close() {
      end(null);
      return closed;
    },
    get peer() {
      return peer;
    },
    get open() {
      return !ended;
    },
    stats,
  };
}
