/**
 * The outbound side of the client: every application message goes through here, on the wire
 * when the client is connected, into the offline queue otherwise. Requests get an ack id and
 * a timeout that runs from the moment they are made (queued or not); this file owns both the
 * queue and the requests waiting for an answer, so a request dropped from the queue or timed
 * out while queued is taken out of both at once.
 * Session packets (Connect, Ping, rooms) do not come here: see `Session.control`.
 *
 * Backpressure: a send answers false when the transport's backlog reached its high-water
 * mark (the message still goes out) or when the message was queued offline; the client then
 * owes its application one `drain` event, emitted once the transport has drained and the
 * client is connected (after a reconnection, once the offline queue went out).
 */
import { ErrorCode, type Packet, PacketType, StelarError } from '../protocol/index.js';
import { AckTracker, type PendingAck } from './acks.js';
import type { ClientContext } from './context.js';
import { traceRequest, tracingRequests } from './diagnostics.js';
import { BoundedQueue } from './queue.js';
import { startTimer } from './timers.js';
import { bytesOf, type ClientTransport, encodeLaidOut, type FrameLayout, sameLayout } from './transport.js';

export type AckCallback = (error: StelarError | null, data?: unknown) => void;
export interface EmitOptions {
  /** A callback `(err, data)` for the answer, or the name of the server's ack handler (answer goes to `onAck(name)`). */
  ack?: AckCallback | string;
  /** Server ack handler for the callback form; default: the event name. */
  ackName?: string;
  /** Overrides `ackTimeout` for this message (ms). */
  timeout?: number;
}
export interface RequestOptions {
  timeout?: number;
}

/** What the outbound side needs to know about the connection (the session provides it). */
export interface OutboundLink {
  /** The transport while the client is 'connected' (messages go out at once), else null. */
  readonly online: ClientTransport | null;
  /** The server's `maxPayloadSize` from its Connect, when it sent one. */
  readonly serverMaxPayload: number | undefined;
}

interface QueueEntry {
  event: string;
  packet: Packet;
  /** Encoded once when queued (the size check needs it); re-encoded only if the transport's layout differs. */
  bytes: Uint8Array;
  layout: FrameLayout;
  pending: PendingAck | undefined;
}

export class Outbound {
  #ctx: ClientContext;
  #link: OutboundLink;
  #queue: BoundedQueue<QueueEntry>;
  #acks = new AckTracker();
  #sent = 0;
  /** A send answered false (backpressure, or queued offline): a `drain` event is owed. */
  #owed = false;
  /** The current transport answered false and has not reported its drain yet. */
  #transportFull = false;

  constructor(ctx: ClientContext, link: OutboundLink) {
    this.#ctx = ctx;
    this.#link = link;
    this.#queue = new BoundedQueue(ctx.options.messageQueueSize);
  }

  /** Messages handed to a transport (queued ones count when they go out). */
  get sent(): number {
    return this.#sent;
  }

  get queueSize(): number {
    return this.#queue.size;
  }

  /** A plain event: bytes always travel as a Binary packet (as on the server), never as JSON of a Buffer. */
  emit(event: string, data: unknown): boolean {
    const bytes = bytesOf(data);
    if (bytes) return this.emitBinary(event, bytes);
    return this.#send({ type: PacketType.JSON, event, data }, data, false, undefined);
  }

  emitBinary(event: string, bytes: Uint8Array): boolean {
    return this.#send({ type: PacketType.BINARY, event, data: bytes }, bytes, true, undefined);
  }

  /** `emit` with `opts.ack`: the callback form answers the callback, the named form the `onAck(name)` listeners. */
  emitWithAck(event: string, data: unknown, opts: EmitOptions): boolean {
    const ack = opts.ack;
    if (typeof ack === 'function') {
      return this.request(
        event,
        data,
        opts.ackName ?? event,
        opts.timeout,
        (value) => ack(null, value),
        (err) => ack(err),
      );
    }
    if (typeof ack !== 'string' || ack === '') throw new TypeError('opts.ack must be a callback or an ack name');
    // Named form: the answer reaches onAck(name) listeners; a failure is reported, not thrown.
    return this.request(
      event,
      data,
      ack,
      opts.timeout,
      () => {},
      (err) => this.#ctx.report(err, 'ack'),
    );
  }

  request(
    event: string,
    data: unknown,
    ackName: string,
    timeout: number | undefined,
    resolve: (value: unknown) => void,
    reject: (error: StelarError) => void,
  ): boolean {
    if (typeof ackName !== 'string' || ackName === '') throw new TypeError('ackName must be a non-empty string');
    const ms = timeout ?? this.#ctx.options.ackTimeout;
    if (!(ms > 0)) throw new RangeError('ack timeout must be > 0');
    const id = this.#acks.allocate();
    const channels = this.#ctx.platform.channels;
    if (tracingRequests(channels)) [resolve, reject] = traceRequest(channels, { client: this.#ctx.client, event, ackName, ackId: id }, resolve, reject);
    const pending: PendingAck = { id, event, ackName, resolve, reject, timer: undefined, queued: undefined };
    const packet: Packet = { type: PacketType.ACK_REQUEST, event, ackName, ackId: pending.id, data };
    return this.#send(packet, data, false, pending, ms);
  }

  /** The request an ACK Response answers (its timer cleared), if it is still waiting. */
  take(ackId: number): PendingAck | undefined {
    return this.#acks.take(ackId);
  }

  /** The session is ready: the offline queue goes out in order on `transport`. Returns how many entries it held. */
  flush(transport: ClientTransport | null): number {
    // A new transport: whatever the previous one owed died with it.
    this.#transportFull = false;
    // After 'connect' (emitted right after this), unless the queue filled the new transport.
    if (this.#owed) queueMicrotask(() => this.#drainIfClear());
    const entries = this.#queue.drain();
    for (const entry of entries) {
      if (entry.pending) entry.pending.queued = undefined;
      if (!transport) continue;
      const layout = transport.layout;
      this.#write(transport, sameLayout(entry.layout, layout) ? entry.bytes : encodeLaidOut(entry.packet, layout));
    }
    return entries.length;
  }

  /** The connection closed: no answer can come to what was sent; what is still queued keeps waiting. */
  failInFlight(code: number): void {
    this.#acks.rejectWhere(
      (entry) => entry.queued === undefined,
      (entry) => new StelarError(ErrorCode.CONNECTION_CLOSED, `connection closed (${code}) before the answer to "${entry.event}"`),
    );
  }

  /** `disconnect()`: every request fails and the queue is emptied. */
  cancelAll(): void {
    const closed = (entry: PendingAck): StelarError =>
      new StelarError(ErrorCode.CONNECTION_CLOSED, `request "${entry.event}" cancelled: the client disconnected`);
    this.#acks.rejectWhere(() => true, closed);
    this.#queue.drain();
  }

  /** The transport drained. */
  onDrain(): void {
    this.#transportFull = false;
    this.#drainIfClear();
  }

  #drainIfClear(): void {
    if (!this.#owed || this.#transportFull || !this.#link.online) return;
    this.#owed = false;
    this.#ctx.emitReserved('drain');
  }

  resizeQueue(capacity: number): void {
    if (capacity !== this.#queue.capacity) this.#dropped(this.#queue.resize(capacity));
  }

  /** The shared path of every app message: hook, size check, then the wire or the queue. */
  #send(packet: Packet, hookData: unknown, isBinary: boolean, pending: PendingAck | undefined, timeout = 0): boolean {
    const ctx = this.#ctx;
    const event = packet.event;
    // The hook's argument is only built when there is a hook to read it.
    if (ctx.options.hooks.onBeforeEmit && ctx.hook('onBeforeEmit', { event, data: hookData, isBinary }) === false) {
      pending?.reject(new StelarError(ErrorCode.ACK_FAILED, `request "${event}" cancelled by the onBeforeEmit hook`));
      return false;
    }
    const online = this.#link.online;
    // Encoded once, laid out for the transport it will most likely go out on (framed in place there).
    const layout = online ? online.layout : ctx.platform.layout(ctx.options.mode);
    const bytes = encodeLaidOut(packet, layout);
    const limit = Math.min(ctx.options.maxPayloadSize, this.#link.serverMaxPayload ?? Infinity);
    const size = bytes.length - layout.prefix - layout.room;
    if (size > limit) {
      const err = new StelarError(ErrorCode.PAYLOAD_TOO_LARGE, `"${event}" is ${size} bytes encoded, above the ${limit}-byte limit`);
      if (pending) pending.reject(err);
      ctx.report(err, 'emit', !pending);
      return false;
    }
    if (pending) {
      this.#acks.add(pending);
      pending.timer = startTimer(() => this.#onAckTimeout(pending, timeout), timeout);
    }
    if (online) {
      if (this.#write(online, bytes)) return true;
      this.#owed = true;
      return false;
    }
    const entry: QueueEntry = { event, packet, bytes, layout, pending };
    if (pending) pending.queued = entry;
    const dropped = this.#queue.push(entry);
    if (dropped.length === 1 && dropped[0] === entry) {
      // A queue of size 0: nothing is kept while offline.
      this.#dropped(dropped);
      return false;
    }
    ctx.hook('onMessageQueued', { event, queueSize: this.#queue.size, dropped: dropped.map((d) => d.event) });
    this.#dropped(dropped);
    this.#owed = true;
    return false;
  }

  #onAckTimeout(pending: PendingAck, ms: number): void {
    if (!this.#acks.take(pending.id)) return;
    if (pending.queued) this.#queue.remove(pending.queued as QueueEntry);
    const where = pending.queued ? ' (still queued: the client was offline)' : '';
    pending.queued = undefined;
    const err = new StelarError(ErrorCode.ACK_TIMEOUT, `request "${pending.event}" (ack "${pending.ackName}") got no answer within ${ms} ms${where}`);
    this.#ctx.report(err, 'ack', false);
    pending.reject(err);
  }

  /** Queue entries dropped for lack of room: failed requests, and the application is told. */
  #dropped(entries: QueueEntry[]): void {
    if (entries.length === 0) return;
    for (const entry of entries) {
      const err = new StelarError(ErrorCode.QUEUE_FULL, `offline queue full (${this.#queue.capacity}): dropped "${entry.event}"`);
      if (entry.pending && this.#acks.take(entry.pending.id)) {
        entry.pending.queued = undefined;
        entry.pending.reject(err);
      }
      this.#ctx.report(err, 'queue', false);
    }
  }

  /** false: the transport's backlog is at its high-water mark (the bytes are queued there anyway). */
  #write(transport: ClientTransport | null, bytes: Uint8Array): boolean {
    if (!transport) return false;
    const ok = transport.sendPacketBytes(bytes);
    this.#sent++;
    if (!ok) this.#transportFull = true;
    return ok;
  }
}
