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

function flushAll(): void {
  // Connections that queue again while this list is written (a drain listener that sends)
  // land in the other list and get the next tick, after everything already queued.
  const list = dirty;
  dirty = spare;
  spare = list;
  scheduled = false;
  try {
    for (let i = 0; i < list.length; i++) list[i]!.flushWrites();
  } finally {
    list.length = 0;
  }
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
  if (total <= CONCAT_LIMIT) return socket.write(Buffer.concat(chunks, total));
  socket.cork();
  let ok = true;
  for (let i = 0; i < chunks.length; i++) ok = socket.write(chunks[i]!);
  socket.uncork();
  // While corked, write() answers false for a large batch even when the kernel then takes it
  // all: read the answer after the flush.
  return ok || socket.writableLength < socket.writableHighWaterMark;
}
