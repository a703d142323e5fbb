// Types of the wmd-wasm package (client/web). The distributor API is the `wmd` package's
// (client/node/index.d.ts); the frame calls are this package's.

export interface PatchRun {
  offset: number;
  bytes: Uint8Array;
}
export interface Patch {
  origin: string;
  seq: number;
  lamport: number;
  runs: PatchRun[];
}
export type VectorClock = Record<string, number>;
export interface VersionRun {
  start: number;
  end: number;
  lamport: number;
  peer: string;
}
export interface PageState {
  page: number;
  bytes: Uint8Array;
  versions: VersionRun[];
}
export interface PageDigest {
  page: number;
  /** 16 hex digits. */
  digest: string;
}

export interface DistributorConfig {
  /** Power of two from 4096 to 1048576; default 8192. Peers must agree. */
  pageSize?: number;
  /** Default 256 MiB; at most about 1.5 GiB (the engine's state lives in its 4 GiB memory). */
  maxSize?: number;
  maxPatchBytes?: number;
  maxMergeGapBytes?: number;
  /** Milliseconds between automatic scans; default 100, 0 disables. */
  scanInterval?: number;
  onError?: (error: Error) => void;
}

export type Message =
  | { type: 'hello'; protocolVersion?: number; cluster: string; peerId: string; pageSize: number; size: number; lamport: number; clock: VectorClock }
  | ({ type: 'patch' } & Patch)
  | { type: 'growth'; size: number }
  | { type: 'digests'; size: number; last: boolean; replyRequested: boolean; digests: PageDigest[] }
  | { type: 'pageStates'; pages: PageState[] }
  | { type: 'catchupDone'; pagesSent: number }
  | { type: 'heartbeat'; token: bigint; reply: boolean }
  | { type: 'error'; code: number; message: string };

export interface FrameLimits {
  /** Agreed in the handshake; 0 (default) refuses digests and page states. */
  pageSize?: number;
  /** Sizes, runs and pages beyond it are refused; default 0. */
  maxSize?: number;
  /** Default 16 MiB. */
  maxFrameBytes?: number;
}

export interface MemoryDistributor {
  scan(): Patch[];
  onDiff(listener: (patch: Patch) => void): () => boolean;
  applyPatches(patches: Patch | Patch[] | Patch[][]): { bytesWritten: number; pagesTouched: number; grew: boolean; diffs: Patch[] };
  getVectorClock(): VectorClock;
  digests(): PageDigest[];
  exportPage(page: number): PageState;
  mergePage(state: PageState): { bytesTaken: number; grew: boolean; diffs: Patch[] };
  resizeMemory(bytes: number): number;
  destroy(): void;
  /** This replica's Hello message. */
  hello(cluster?: string): Message;
  /** Decodes a received frame under this replica's limits and acts on it; returns the message. */
  receiveFrame(frame: Uint8Array, maxFrameBytes?: number): Message;
  readonly zeroPageDigest: string;
  readonly peerId: string;
  readonly pageSize: number;
  readonly maxSize: number;
  readonly size: number;
}

export function createMemoryDistributor(memory: WebAssembly.Memory, peerId: string, config?: DistributorConfig): MemoryDistributor;
export function scan(state: MemoryDistributor): { state: MemoryDistributor; patches: Patch[] };
export function onDiff(state: MemoryDistributor, callback: (patches: Patch[]) => void): MemoryDistributor;
export function applyPatches(state: MemoryDistributor, patches: Patch | Patch[] | Patch[][]): MemoryDistributor;
export function getVectorClock(state: MemoryDistributor): VectorClock;
export function resizeMemory(state: MemoryDistributor, newBuffer: ArrayBuffer | number): MemoryDistributor;
export function destroy(state: MemoryDistributor): void;

export function encodeFrame(message: Message): Uint8Array;
export function decodeFrame(frame: Uint8Array, limits?: FrameLimits): Message;

export interface DaemonSessionOptions {
  /** The daemons' --cluster; default 'wmd', as wmdd's. */
  cluster?: string;
  /** The content of wmdd's --ws-token-file, sent as the URL's `token` query parameter. */
  token?: string;
  /** The daemons' --max-frame; default 16 MiB. */
  maxFrameBytes?: number;
  /** A WebSocket constructor; default globalThis.WebSocket (Node 20 has none). */
  WebSocket?: new (url: string, protocols?: string | string[]) => WebSocket;
  /** Default 1000 and 5000 ms, as wmdd's. */
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  /** A failure that ended the session. */
  onError?: (error: Error) => void;
}

export interface DaemonSession {
  /** Resolves once catch-up ran both ways; rejects when the session ends before. */
  readonly ready: Promise<void>;
  /** Resolves with the error that ended the session, or null after close(). */
  readonly closed: Promise<Error | null>;
  close(): Promise<Error | null>;
  /** The daemon's Hello, once received. */
  readonly peer: Message | null;
  readonly open: boolean;
  readonly stats: { framesSent: number; framesReceived: number; patchesSent: number; pagesSent: number; pagesReceived: number };
}

/** The distributor as a peer of the wmdd at `url` (ws:// or wss://, `wmdd --ws-listen`). */
export function connectDaemon(distributor: MemoryDistributor, url: string | URL, options?: DaemonSessionOptions): DaemonSession;
