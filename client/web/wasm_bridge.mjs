// The JavaScript side of wmd_engine.wasm (client/web/src): loading the module, and moving values
// across its boundary. A message goes in by building the module's inbox field by field and comes
// out by reading its outbox field by field (src/wasm_messages.cpp); frames are encoded and decoded
// by the module's codec, the daemon's own.
//
// One EngineInstance per WebAssembly instance; it holds at most one engine.

const kWasmUrl = new URL('./wmd_engine.wasm', import.meta.url);

async function loadModuleBytes() {
  if (typeof process === 'object' && process.versions?.node && kWasmUrl.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return readFile(kWasmUrl);
  }
  const response = await fetch(kWasmUrl);
  if (!response.ok) throw new Error(`wmd-wasm: cannot fetch ${kWasmUrl}: ${response.status}`);
  return response.arrayBuffer();
}

// Compiled once, when the package is first imported.
const engineModule = await WebAssembly.compile(await loadModuleBytes());

// The engine writes nothing to files; libc's stdio is linked but its calls only fail.
const kErrnoNosys = 52;
const wasiStub = {
  fd_close: () => kErrnoNosys,
  fd_seek: () => kErrnoNosys,
  fd_write: () => kErrnoNosys,
  proc_exit: (code) => {
    throw new Error(`wmd-wasm: the engine exited (${code})`);
  },
};

// wmd::errc names by number (engine/errors.hpp); the JavaScript code is ERR_WMD_<NAME>.
const kErrcNames = [
  'OK', 'INVALID_PAGE_SIZE', 'INVALID_CONFIG', 'INVALID_PEER_ID', 'BEYOND_MAX_SIZE',
  'OUT_OF_RANGE', 'STATE_TOO_SMALL', 'BAD_MAGIC', 'BAD_LAYOUT_VERSION', 'PAGE_SIZE_MISMATCH',
  'STATE_CORRUPT', 'POOL_EXHAUSTED', 'FRAME_TOO_LARGE', 'TRUNCATED', 'MALFORMED',
  'UNKNOWN_MESSAGE_TYPE', 'PROTOCOL_VERSION_MISMATCH', 'CLUSTER_MISMATCH', 'DUPLICATE_CONNECTION',
  'HANDSHAKE_TIMEOUT', 'HEARTBEAT_TIMEOUT', 'IO', 'PEER_TABLE_FULL',
];

// The wmd::errc number of a name ('malformed', 'heartbeat_timeout', ...), or undefined.
export function errcNumber(name) {
  const number = kErrcNames.indexOf(String(name).toUpperCase());
  return number > 0 ? number : undefined;
}

// proto::MessageType numbers and the `type` of the message objects.
const kTypeNames = [undefined, 'hello', 'patch', 'growth', 'digests', 'pageStates', 'catchupDone',
  'heartbeat', 'error'];

const kOutboxNone = 0xffffffff;  // wmd_encode: encode the inbox
export const kFrameHeaderBytes = 5;
export const kDefaultMaxFrameBytes = 16 * 1024 * 1024;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

export function digestToHex(value) {
  return BigInt.asUintN(64, value).toString(16).padStart(16, '0');
}

function hexToDigest(hex) {
  if (typeof hex !== 'string' || !/^[0-9a-f]{1,16}$/i.test(hex)) {
    throw new TypeError('a digest is a string of up to 16 hex digits');
  }
  return BigInt.asIntN(64, BigInt(`0x${hex}`));
}

function requireNumber(value, what) {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${what} must be a non-negative number`);
  }
  return value;
}

function requireBytes(value, what) {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  return value;
}

export class EngineInstance {
  constructor() {
    const instance = new WebAssembly.Instance(engineModule, { wasi_snapshot_preview1: wasiStub });
    this.exports = instance.exports;
    this.exports._initialize();
    this.strings = [];
  }

  // A view of the module's memory (re-made after the memory grew).
  bytes() {
    if (this.view === undefined || this.view.buffer !== this.exports.memory.buffer) {
      this.view = new Uint8Array(this.exports.memory.buffer);
    }
    return this.view;
  }

  error(code, context) {
    const pointer = this.exports.wmd_error_message(code);
    const end = this.bytes().indexOf(0, pointer);
    const error = new Error(`${context}: ${utf8Decoder.decode(this.bytes().subarray(pointer, end))}`);
    error.code = `ERR_WMD_${kErrcNames[code] ?? ''}`.replace(/_$/, '');
    return error;
  }

  check(code, context) {
    if (code !== 0) throw this.error(code, context);
  }

  // Copies the strings into the scratch area; returns [offset, length] pairs in order.
  scratchStrings(...strings) {
    const encoded = strings.map((s) => {
      if (typeof s !== 'string') throw new TypeError('a peer id, cluster or text must be a string');
      return utf8Encoder.encode(s);
    });
    const total = encoded.reduce((sum, e) => sum + e.length, 0);
    const base = this.exports.wmd_scratch(Math.max(total, 1));
    const pairs = [];
    let offset = 0;
    for (const e of encoded) {
      this.bytes().set(e, base + offset);
      pairs.push(offset, e.length);
      offset += e.length;
    }
    return pairs;
  }

  readString(pointer) {
    const length = this.exports.wmd_string_length();
    return utf8Decoder.decode(this.bytes().subarray(pointer, pointer + length));
  }

  copyOut(pointer, length) {
    return this.bytes().slice(pointer, pointer + length);
  }

  // --- outbox -> JavaScript objects -------------------------------------------------------

  outboxCount() {
    return this.exports.wmd_outbox_count();
  }

  readPatch(i) {
    const x = this.exports;
    const runs = [];
    let payload = x.wmd_out_patch_bytes(i);
    for (let r = 0, n = x.wmd_out_run_count(i); r < n; ++r) {
      const length = x.wmd_out_run_length(i, r);
      runs.push({ offset: x.wmd_out_run_offset(i, r), bytes: this.copyOut(payload, length) });
      payload += length;
    }
    return { origin: this.readString(x.wmd_out_peer(i)), seq: x.wmd_out_seq(i), lamport: x.wmd_out_lamport(i), runs };
  }

  readPageStates(i) {
    const x = this.exports;
    const pageSize = this.pageSizeForStates;
    const pages = [];
    for (let p = 0, n = x.wmd_out_page_count(i); p < n; ++p) {
      const versions = [];
      for (let v = 0, m = x.wmd_out_version_count(i, p); v < m; ++v) {
        versions.push({
          start: x.wmd_out_version(i, p, v, 0),
          end: x.wmd_out_version(i, p, v, 1),
          lamport: x.wmd_out_version(i, p, v, 2),
          peer: this.readString(x.wmd_out_version_peer(i, p, v)),
        });
      }
      const size = versions.length > 0 ? versions[versions.length - 1].end : pageSize;
      pages.push({ page: x.wmd_out_page_index(i, p), bytes: this.copyOut(x.wmd_out_page_bytes(i, p), size), versions });
    }
    return pages;
  }

  // Any outbox message as { type, ... } (see index.d.ts, Message).
  readMessage(i) {
    const x = this.exports;
    const type = kTypeNames[x.wmd_outbox_type(i)];
    switch (type) {
      case 'hello': {
        const clock = {};
        for (let e = 0, n = x.wmd_out_clock_count(i); e < n; ++e) {
          clock[this.readString(x.wmd_out_clock_peer(i, e))] = x.wmd_out_clock_seq(i, e);
        }
        return {
          type, protocolVersion: x.wmd_out_small(i, 0), cluster: this.readString(x.wmd_out_text(i)),
          peerId: this.readString(x.wmd_out_peer(i)), pageSize: x.wmd_out_small(i, 1),
          size: x.wmd_out_size(i), lamport: x.wmd_out_lamport(i), clock,
        };
      }
      case 'patch':
        return { type, ...this.readPatch(i) };
      case 'growth':
        return { type, size: x.wmd_out_size(i) };
      case 'digests': {
        const digests = [];
        for (let e = 0, n = x.wmd_out_digest_count(i); e < n; ++e) {
          digests.push({ page: x.wmd_out_digest_page(i, e), digest: digestToHex(x.wmd_out_digest(i, e)) });
        }
        const flags = x.wmd_out_small(i, 0);
        return { type, size: x.wmd_out_size(i), last: (flags & 1) !== 0, replyRequested: (flags & 2) !== 0, digests };
      }
      case 'pageStates':
        return { type, pages: this.readPageStates(i) };
      case 'catchupDone':
        return { type, pagesSent: x.wmd_out_size(i) };
      case 'heartbeat':
        return { type, token: BigInt.asUintN(64, x.wmd_out_token(i)), reply: x.wmd_out_small(i, 0) === 1 };
      case 'error':
        return { type, code: x.wmd_out_small(i, 0), message: this.readString(x.wmd_out_text(i)) };
      default:
        throw new Error(`wmd-wasm: outbox[${i}] holds no message`);
    }
  }

  // Every outbox message, read and removed.
  drainOutbox() {
    const messages = [];
    for (let i = 0, n = this.outboxCount(); i < n; ++i) messages.push(this.readMessage(i));
    this.exports.wmd_clear_outbox();
    return messages;
  }

  // --- JavaScript objects -> inbox ----------------------------------------------------------

  writePatch(patch) {
    if (patch === null || typeof patch !== 'object') throw new TypeError('a patch must be an object');
    if (!Array.isArray(patch.runs)) throw new TypeError('patch.runs must be an array');
    const x = this.exports;
    const [offset, length] = this.scratchStrings(patch.origin);
    x.wmd_in_patch(offset, length, requireNumber(patch.seq, 'patch.seq'), requireNumber(patch.lamport, 'patch.lamport'));
    for (const run of patch.runs) {
      if (run === null || typeof run !== 'object') throw new TypeError('patch.runs[] must be objects');
      x.wmd_in_run(requireNumber(run.offset, 'run.offset'), requireBytes(run.bytes, 'run.bytes').length);
    }
    let at = x.wmd_in_patch_bytes();
    for (const run of patch.runs) {
      this.bytes().set(run.bytes, at);
      at += run.bytes.length;
    }
  }

  writePageStates(pages) {
    const x = this.exports;
    x.wmd_in_page_states();
    for (const state of pages) {
      if (state === null || typeof state !== 'object') throw new TypeError('a page state must be an object');
      if (!Array.isArray(state.versions)) throw new TypeError('state.versions must be an array');
      const bytes = requireBytes(state.bytes, 'state.bytes');
      const at = x.wmd_in_page(requireNumber(state.page, 'state.page'), bytes.length);
      this.bytes().set(bytes, at);
      for (const v of state.versions) {
        if (v === null || typeof v !== 'object') throw new TypeError('state.versions[] must be objects');
        const [offset, length] = this.scratchStrings(v.peer);
        x.wmd_in_version(requireNumber(v.start, 'version.start'), requireNumber(v.end, 'version.end'),
          requireNumber(v.lamport, 'version.lamport'), offset, length);
      }
    }
  }

  writeMessage(message) {
    if (message === null || typeof message !== 'object') throw new TypeError('a message must be an object');
    const x = this.exports;
    switch (message.type) {
      case 'hello': {
        const [co, cl, po, pl] = this.scratchStrings(message.cluster ?? '', message.peerId);
        x.wmd_in_hello(co, cl, po, pl, requireNumber(message.pageSize, 'hello.pageSize'),
          requireNumber(message.size ?? 0, 'hello.size'), requireNumber(message.lamport ?? 0, 'hello.lamport'));
        for (const [peer, seq] of Object.entries(message.clock ?? {})) {
          const [o, l] = this.scratchStrings(peer);
          x.wmd_in_clock(o, l, requireNumber(seq, 'clock entry'));
        }
        return;
      }
      case 'patch':
        return this.writePatch(message);
      case 'growth':
        return x.wmd_in_growth(requireNumber(message.size, 'growth.size'));
      case 'digests':
        x.wmd_in_digests(requireNumber(message.size ?? 0, 'digests.size'), message.last ? 1 : 0, message.replyRequested ? 1 : 0);
        for (const { page, digest } of message.digests ?? []) x.wmd_in_digest(requireNumber(page, 'digest page'), hexToDigest(digest));
        return;
      case 'pageStates':
        return this.writePageStates(message.pages ?? []);
      case 'catchupDone':
        return x.wmd_in_catchup_done(requireNumber(message.pagesSent ?? 0, 'catchupDone.pagesSent'));
      case 'heartbeat':
        return x.wmd_in_heartbeat(BigInt.asIntN(64, BigInt(message.token ?? 0)), message.reply ? 1 : 0);
      case 'error': {
        const [o, l] = this.scratchStrings(message.message ?? '');
        return x.wmd_in_error(requireNumber(message.code, 'error.code'), o, l);
      }
      default:
        throw new TypeError(`unknown message type ${message.type}`);
    }
  }

  // --- frames ---------------------------------------------------------------------------

  // The frame of outbox[index], or of the inbox without an index.
  encode(index = kOutboxNone) {
    const length = this.exports.wmd_encode(index);
    return this.copyOut(this.exports.wmd_encoded(), length);
  }

  // Decodes one whole frame into the outbox (appended); throws ERR_WMD_* on a bad frame.
  decode(frame, limits = {}) {
    requireBytes(frame, 'a frame');
    const base = this.exports.wmd_scratch(Math.max(frame.length, 1));
    this.bytes().set(frame, base);
    this.pageSizeForStates = limits.pageSize ?? 0;
    this.check(this.exports.wmd_decode(frame.length, limits.pageSize ?? 0, limits.maxSize ?? 0,
      limits.maxFrameBytes ?? kDefaultMaxFrameBytes), 'decodeFrame');
  }
}

// Codec calls that need no engine share one instance.
let codec;
function codecInstance() {
  codec ??= new EngineInstance();
  return codec;
}

// One whole wire frame (proto/PROTOCOL.md) for a message object: { type: 'hello' | 'patch' |
// 'growth' | 'digests' | 'pageStates' | 'catchupDone' | 'heartbeat' | 'error', ...fields }.
export function encodeFrame(message) {
  const c = codecInstance();
  c.writeMessage(message);
  return c.encode();
}

// The message object of one whole frame. limits: { pageSize (agreed in the handshake; 0 before,
// when digests and page states are refused), maxSize (sizes, runs and pages beyond it are
// refused), maxFrameBytes (default 16 MiB) }. Throws ERR_WMD_TRUNCATED, ERR_WMD_MALFORMED, ...
export function decodeFrame(frame, limits = {}) {
  const c = codecInstance();
  c.exports.wmd_clear_outbox();
  c.decode(frame, limits);
  const [message] = c.drainOutbox();
  return message;
}
