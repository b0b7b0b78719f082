/**
 * Write coalescing shared by every connection (WebSocket and TCP).
 *
 * A connection that sends puts its bytes in its own queue and registers here once per
 * tick; one `process.nextTick` flushes every registered connection, so a socket gets one
 * `write()` (one syscall) per tick whatever the number of messages sent to it in that
 * tick. A broadcast of ten messages to a thousand sockets therefore costs a thousand
 * writes, not ten thousand. There is no timer per connection: one list, one callback.
 *
 * Nothing is ever reordered: a connection's queue is written in order, and a connection
 * that must write something out of band (a close frame followed by `end()`) flushes its
 * queue itself first, synchronously.
 *
 * Read pausing (the accepting side only, see `OutboundQueue`): a peer that sends requests and
 * never reads the answers must not make us hold its answers until the slow-consumer cap. A
 * queue that pauses reads stops reading its socket the moment its backlog passes the socket's
 * high-water mark and resumes on `drain`, so the peer is held back by TCP flow control.
 */
import type { Duplex } from 'node:stream';

/** What the batcher calls back: write everything queued now. */
export interface Flushable {
  flushWrites(): void;
}

/** Connections with queued bytes; flushed and emptied by one nextTick. */
let dirty: Flushable[] = [];
let spare: Flushable[] = [];
let scheduled = false;

/**
 * Broadcast: every member of a room queues the very same frames in the same order, so the
 * batch joined for one connection is the batch of the next. Within one flush pass the last
 * joined batch is kept with the list it came from and written again, not joined again, when
 * the next list holds the same frames (1,000 recipients: one copy instead of 1,000). Frames
 * are never modified once sent, so equal references mean equal bytes. Dropped after the pass.
 */
let passing = false;
let joinedFrom: Uint8Array[] | null = null;
let joined: Buffer | null = null;

/**
 * Work that must reach the queues before anything else is written: a room broadcast whose
 * recipients have not been handed their bytes yet (see MemoryAdapter's broadcast runs). Any
 * write to any queue, and the flush itself, runs it first, so that deferring it never changes
 * the order in which a connection receives its messages. One slot: a new deferral runs the
 * previous one first.
 */
let deferred: (() => void) | null = null;

/** Runs the deferred work now, if any (before a write, a flush or a close). */
export function runDeferredWrites(): void {
  const run = deferred;
  if (run === null) return;
  deferred = null;
  run();
}

/** Defers `run` until the next write to any connection or this tick's flush, whichever is first. */
export function deferUntilWrite(run: () => void): void {
  if (deferred !== null && deferred !== run) runDeferredWrites();
  deferred = run;
  if (!scheduled) {
    scheduled = true;
    process.nextTick(flushAll);
  }
}

function flushAll(): void {
  // Deferred broadcasts land in the queues first, and in this tick's list.
  if (deferred !== null) runDeferredWrites();
  // Connections that queue again while this list is written (a drain listener that sends)
  // land in the other list and get the next tick, after everything already queued.
  const list = dirty;
  dirty = spare;
  spare = list;
  scheduled = false;
  passing = true;
  try {
    for (let i = 0; i < list.length; i++) list[i]!.flushWrites();
  } finally {
    passing = false;
    joinedFrom = null;
    joined = null;
    list.length = 0;
  }
}

function sameFrames(a: Uint8Array[], b: Uint8Array[]): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The chunks as one Buffer: the previous connection's when it queued the same frames (see `joined`). */
function join(chunks: Uint8Array[], total: number): Buffer {
  if (!passing) return Buffer.concat(chunks, total);
  if (joinedFrom !== null && sameFrames(chunks, joinedFrom)) return joined!;
  joinedFrom = chunks;
  return (joined = Buffer.concat(chunks, total));
}

/** Registers a connection that just queued its first bytes of this tick. */
export function scheduleFlush(conn: Flushable): void {
  dirty.push(conn);
  if (!scheduled) {
    scheduled = true;
    process.nextTick(flushAll);
  }
}

/** Above this many queued bytes the chunks go out as one writev instead of one copied Buffer. */
const CONCAT_LIMIT = 64 * 1024;

/**
 * Writes queued chunks to the socket in order with the fewest syscalls: small batches are
 * copied into one Buffer, large ones are corked so Node hands them to one writev without a
 * copy. Returns socket.write's answer for the last chunk (false = above the high-water mark).
 */
export function writeChunks(socket: Duplex, chunks: Uint8Array | Uint8Array[], total: number): boolean {
  if (!Array.isArray(chunks)) return socket.write(chunks);
  if (total <= CONCAT_LIMIT) return socket.write(join(chunks, total));
  socket.cork();
  let ok = true;
  for (let i = 0; i < chunks.length; i++) ok = socket.write(chunks[i]!);
  socket.uncork();
  // While corked, write() answers false for a large batch even when the kernel then takes it
  // all: read the answer after the flush.
  return ok || socket.writableLength < socket.writableHighWaterMark;
}

/** Reads paused because the peer does not read our backlog. */
const PAUSED_BACKLOG = 1;
/** Reads paused while a compressed message is inflated on the thread pool. */
const PAUSED_INFLATE = 2;

/** Who hears that the backlog is gone: the connection, which re-emits `drain` to its users. */
export interface DrainListener {
  emit(event: 'drain'): boolean;
}

/**
 * One connection's outgoing bytes between two flushes, with the backpressure bookkeeping
 * both transports need: the answer `send` gives, the `drain` owed after a false answer, and
 * the bytes that `bufferedAmount` must count before they reach the socket.
 */
export class OutboundQueue implements Flushable {
  readonly #socket: Duplex;
  readonly #owner: DrainListener;
  /** Frames queued this tick (one, several, or none). */
  #out: Uint8Array | Uint8Array[] | null = null;
  #bytes = 0;
  /**
   * While frames are queued: the socket's own buffered bytes, and how many bytes fit below its
   * high-water mark, read once when the first frame of the tick is queued. Nothing else writes
   * to the socket before the flush (the connection's own out-of-band writes flush this queue
   * first) and the kernel only takes bytes between ticks, so neither changes meanwhile: a
   * broadcast's later writes and backlog checks of the tick read these two numbers instead of
   * the socket and its stream state (two objects less touched per recipient).
   */
  #socketBytes = 0;
  #room = 0;
  /** A write answered false: `drain` is owed once the backlog is gone. */
  #needDrain = false;
  /** Pause reading while over the high-water mark (off once the connection closes). */
  #pauseReads: boolean;
  /**
   * Why we paused the socket's reads (and owe it a resume): PAUSED_BACKLOG, PAUSED_INFLATE, or
   * both (one field for both reasons: it is per connection). Reads resume when none is left.
   */
  #paused = 0;
  /**
   * What `peerTookSinceLastLook` saw last: our backlog, and libuv's unwritten bytes; -1 before
   * the first look. (Small integers, not Infinity: a double field costs every idle connection
   * a heap number.)
   */
  #lookBuffered = -1;
  #lookUnwritten = -1;

  /**
   * `pauseReads`: stop reading the socket while the backlog is over the high-water mark and
   * resume on drain. Only one side of a connection may do this (if both did, two peers that
   * each wait for the other to read would wait forever): the accepting side, whose output
   * grows with what it reads (answers, pongs).
   */
  constructor(socket: Duplex, owner: DrainListener, pauseReads = false) {
    this.#socket = socket;
    this.#owner = owner;
    this.#pauseReads = pauseReads;
  }

  /** true while reads are paused because the peer is not reading what we sent. */
  get readsPaused(): boolean {
    return (this.#paused & PAUSED_BACKLOG) !== 0;
  }

  /**
   * Pauses (true) or resumes (false) reads while the connection inflates a compressed message
   * on the thread pool: what arrives meanwhile stays in the kernel, not in our parser's queue.
   * Independent of the backlog pause: reads resume only when neither holds them.
   */
  holdReads(on: boolean): void {
    if (on) {
      if (this.#paused === 0) this.#socket.pause();
      this.#paused |= PAUSED_INFLATE;
    } else if ((this.#paused & PAUSED_INFLATE) !== 0) {
      this.#paused &= ~PAUSED_INFLATE;
      if (this.#paused === 0 && !this.#socket.destroyed) this.#socket.resume();
    }
  }

  /**
   * Never pause again, and resume if paused: the connection is closing and must read the
   * peer's close (close frame, Disconnect, FIN). What it reads then is discarded by the
   * layers above, and the close timeout bounds how long.
   */
  stopPausing(): void {
    this.#pauseReads = false;
    this.#resumeReads();
  }

  /**
   * Whether the kernel took any of our backlog since the previous call, i.e. the peer is
   * reading. `bufferedAmount` alone cannot say: a large write handed to libuv counts in full
   * until the last byte of it is written, so the handle's own unwritten count is read too.
   */
  peerTookSinceLastLook(): boolean {
    const buffered = this.bufferedAmount;
    const unwritten = (this.#socket as { _handle?: { writeQueueSize?: unknown } | null })._handle?.writeQueueSize;
    const queue = typeof unwritten === 'number' ? unwritten : buffered;
    const took = this.#lookBuffered < 0 || buffered < this.#lookBuffered || queue < this.#lookUnwritten;
    this.#lookBuffered = buffered;
    this.#lookUnwritten = queue;
    return took;
  }

  #resumeReads(): void {
    if ((this.#paused & PAUSED_BACKLOG) === 0) return;
    this.#paused &= ~PAUSED_BACKLOG;
    if (this.#paused === 0 && !this.#socket.destroyed) this.#socket.resume();
  }

  /**
   * A write answered false and its `drain` has not come yet: the backlog is at or above the
   * high-water mark (the name and meaning of Node's `writable.writableNeedDrain`).
   */
  get writableNeedDrain(): boolean {
    return this.#needDrain;
  }

  /** Queued bytes plus the socket's own buffer: what `bufferedAmount` reports. */
  get bufferedAmount(): number {
    return this.#out === null ? this.#socket.writableLength : this.#bytes + this.#socketBytes;
  }

  /**
   * Queues bytes for this tick's flush. false = dropped (the socket no longer writes) or
   * queued above the socket's high-water mark (the caller should wait for `drain`).
   */
  write(bytes: Uint8Array): boolean {
    const socket = this.#socket;
    // Read once per tick, with the first frame: the socket is ended or destroyed only by the
    // connection's own paths, which flush this queue first (or drop it with the socket).
    if (this.#out === null && !socket.writable) return false;
    this.enqueue(bytes);
    if (this.#bytes < this.#room) return true;
    this.#needDrain = true;
    if (this.#pauseReads && (this.#paused & PAUSED_BACKLOG) === 0) {
      // The peer is not keeping up with what we send: stop reading what it sends (the chunk
      // being handled finishes; the next one waits for drain).
      if (this.#paused === 0) socket.pause();
      this.#paused |= PAUSED_BACKLOG;
    }
    return false;
  }

  /** Queues bytes with no backpressure answer (a close frame, the header of a split frame). */
  enqueue(bytes: Uint8Array): void {
    if (deferred !== null) runDeferredWrites();
    const out = this.#out;
    if (out === null) {
      this.#out = bytes;
      const socket = this.#socket;
      const held = socket.writableLength;
      this.#socketBytes = held;
      this.#room = socket.writableHighWaterMark - held;
      scheduleFlush(this);
    } else if (Array.isArray(out)) out.push(bytes);
    else this.#out = [out, bytes];
    this.#bytes += bytes.length;
  }

  /** Writes everything queued now, in order (the batcher calls this once per tick). */
  flushWrites(): void {
    if (deferred !== null) runDeferredWrites();
    const out = this.#out;
    if (out === null) return;
    const total = this.#bytes;
    this.clear();
    const socket = this.#socket;
    // The socket is gone or ended: what was queued is dropped with it.
    if (!socket.writable) return;
    if (writeChunks(socket, out, total) && this.#needDrain) {
      // The kernel took it all: the socket will not emit drain, so we owe it here.
      this.#needDrain = false;
      this.#resumeReads();
      this.#owner.emit('drain');
    }
  }

  /** The socket's own `drain`: reads resume; a drain still owed is forwarded, unless frames are queued (the next flush decides). */
  onSocketDrain(): void {
    if (this.#out !== null) return;
    this.#resumeReads();
    // Only a drain that is owed: a flush that the kernel took whole has already paid it, and
    // the socket may still report its own (write() answered false while corked).
    if (!this.#needDrain) return;
    this.#needDrain = false;
    this.#owner.emit('drain');
  }

  /** Forgets what is queued (the connection is gone). */
  clear(): void {
    this.#out = null;
    this.#bytes = 0;
  }
}
