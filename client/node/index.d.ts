// Types of the wmd package (client/node).

/** A run of changed bytes at an absolute offset of the memory. */
export interface PatchRun {
  offset: number;
  bytes: Uint8Array;
}

/** One local change round of one peer, stamped with (lamport, origin). */
export interface Patch {
  origin: string;
  /** Per-origin sequence number, from 1. */
  seq: number;
  lamport: number;
  runs: PatchRun[];
}

/** Highest sequence number seen per origin (including this peer's own). */
export type VectorClock = Record<string, number>;

export interface DistributorConfig {
  /** Power of two from 4096 to 1048576; default 8192. Peers must agree. */
  pageSize?: number;
  /** Largest size the memory may reach, in bytes; default 4 GiB. */
  maxSize?: number;
  /** A scan round is split into patches of at most this many payload bytes; default 1 MiB. */
  maxPatchBytes?: number;
  /** Unchanged gaps up to this length are sent inside one run; default 0 (exact patches). */
  maxMergeGapBytes?: number;
  /** Scan automatically every this many milliseconds; default 100, 0 disables the timer
   * (the timer never keeps Node alive). */
  scanInterval?: number;
  /** Receives errors of automatic scans; without it they are thrown. */
  onError?: (error: Error) => void;
}

export interface ApplyResult {
  /** Bytes whose version was older than the patch's and now hold the patch's bytes. */
  bytesWritten: number;
  pagesTouched: number;
  /** The memory grew to hold the patch. */
  grew: boolean;
  /** Local patches absorbed before remote bytes landed (also given to onDiff listeners). */
  diffs: Patch[];
}

/** The version of bytes [start, end) of a page: the write (lamport, peer) that produced them. */
export interface VersionRun {
  start: number;
  end: number;
  lamport: number;
  peer: string;
}

/** The full replicated state of one page, for catch-up. */
export interface PageState {
  page: number;
  /** Exactly one page. */
  bytes: Uint8Array;
  /** Canonical: sorted, covering the page exactly. */
  versions: VersionRun[];
}

export interface PageDigest {
  page: number;
  /** 64-bit digest of bytes and versions, as 16 hex digits. */
  digest: string;
}

export interface MergeResult {
  /** Bytes whose remote version won. */
  bytesTaken: number;
  grew: boolean;
  diffs: Patch[];
}

export interface MemoryDistributor {
  /** Local changes since the last scan, as patches (also given to onDiff listeners). */
  scan(): Patch[];
  /** Registers a listener for local patches; returns a function that removes it. */
  onDiff(listener: (patch: Patch) => void): () => boolean;
  /** Applies remote patches: per-byte last-writer-wins; idempotent, any order. */
  applyPatches(patches: Patch | Patch[] | Patch[][]): ApplyResult;
  getVectorClock(): VectorClock;
  /** Catch-up: digests of every page that is not in the never-written all-zero state. */
  digests(): PageDigest[];
  /** Catch-up: a page's bytes and versions (pending local changes absorbed first). */
  exportPage(page: number): PageState;
  /** Catch-up: merges a peer's page state byte by byte (the newer version wins). */
  mergePage(state: PageState): MergeResult;
  /** Grows the memory (memory.grow) and the tracked size to at least `bytes`; returns the size. */
  resizeMemory(bytes: number): number;
  destroy(): void;
  readonly peerId: string;
  readonly pageSize: number;
  readonly maxSize: number;
  /** Tracked size in bytes (a multiple of pageSize). */
  readonly size: number;
}

export function createMemoryDistributor(
  memory: WebAssembly.Memory,
  peerId: string,
  config?: DistributorConfig,
): MemoryDistributor;

// The seed library's standalone functions. The distributor that createMemoryDistributor returns
// is their `state`; each returns it (or the value the seed returned).

/** Local changes since the last scan; they also go to the onDiff callbacks. */
export function scan(state: MemoryDistributor): { state: MemoryDistributor; patches: Patch[] };
/** callback(patches) for each round of local patches (timer scans included). */
export function onDiff(
  state: MemoryDistributor,
  callback: (patches: Patch[]) => void,
): MemoryDistributor;
/** Applies remote patches: one, an array, or arrays of arrays (as onDiff delivered them). */
export function applyPatches(
  state: MemoryDistributor,
  patches: Patch | Patch[] | Patch[][],
): MemoryDistributor;
export function getVectorClock(state: MemoryDistributor): VectorClock;
/** After memory.grow: the memory's new buffer (or a size in bytes to grow to). */
export function resizeMemory(
  state: MemoryDistributor,
  newBuffer: ArrayBuffer | number,
): MemoryDistributor;
export function destroy(state: MemoryDistributor): void;

export interface SegmentOptions {
  /** Create the segment when missing (default true). */
  create?: boolean;
  /** Maximum size of a segment this call creates; default 4 GiB. */
  maxSize?: number;
  /** Page size of a segment this call creates; default 8192. */
  pageSize?: number;
  /** On attach: 'pull' (default) copies the segment's differing pages into the memory,
   * 'push' copies the memory's into the segment. */
  initial?: 'pull' | 'push';
  /** Grows the module's memory to at least `bytes` when the segment holds data beyond it (a
   * peer's module grew). Route it to the module's runtime so that its views of the memory stay
   * valid (emscripten: its `emscripten_resize_heap` import). Default: `memory.grow`. */
  grow?: (bytes: number) => void;
}

export interface SyncOptions {
  /** push(): ask the daemon to propagate the pushed bytes now (wmd_flush). */
  flush?: boolean;
  /** Timeout of that flush in milliseconds (default 1000). */
  timeoutMs?: number;
}

export interface SyncResult {
  /** Pages whose hash differed from the last agreed state (their bytes were compared). */
  pagesChanged: number;
  /** Bytes copied. */
  bytesCopied: number;
  /** The memory or the segment grew. */
  grew: boolean;
  /** push({ flush: true }) only: the daemon confirmed the flush in time. */
  flushed?: boolean;
}

export interface SegmentMirror {
  /** Copies the bytes the module changed since the last sync into the segment. */
  push(options?: SyncOptions): SyncResult;
  /** Copies the bytes changed in the segment (by peers) since the last sync into the memory. */
  pull(options?: SyncOptions): SyncResult;
  /** push() then pull(). */
  sync(options?: SyncOptions): { pushed: SyncResult; pulled: SyncResult };
  /** Asks the daemon to scan and send now; false when no daemon answered in time. */
  flush(timeoutMs?: number): boolean;
  /** Blocks until the daemon applied remote changes, or the timeout; true when it did. */
  waitRemote(timeoutMs?: number): boolean;
  /** The same without blocking the JavaScript thread (the wait runs on a libuv worker). */
  waitRemoteAsync(timeoutMs?: number): Promise<boolean>;
  /** The daemon's status block, as published in the segment. */
  status(): Record<string, unknown>;
  close(): void;
  readonly name: string;
  readonly pageSize: number;
  /** Bytes mirrored (memory and segment are kept at this size). */
  readonly size: number;
  readonly closed: boolean;
}

export function attachSegment(
  memory: WebAssembly.Memory,
  name: string,
  options?: SegmentOptions,
): SegmentMirror;
