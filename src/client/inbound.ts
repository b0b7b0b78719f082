/**
 * The inbound side of the client: one decoded packet at a time, dispatched by type to the
 * session (Connect, Disconnect, Ping), the requests waiting for an answer, the rooms, and the
 * application's listeners. Every packet counts as a sign of life for the heartbeat.
 */
import { CloseCode, decodePacket, ErrorCode, isReservedEvent, type Packet, PacketType, ReservedEvent, remoteError, StelarError } from '../protocol/index.js';
import type { PendingAck } from './acks.js';
import type { Answers } from './answers.js';
import type { ClientContext } from './context.js';
import type { Recovery } from './recovery.js';
import type { RoomSet } from './rooms.js';

/** What inbound packets drive in the session (the session provides it). */
export interface InboundSession {
  /** Any packet from the server: the heartbeat's sign of life. */
  touch(): void;
  /** The server's Connect: the session is open. */
  onServerConnect(data: unknown): void;
  /** Sends a session packet (never queued). */
  control(packet: Packet): void;
  /** Closes the transport with this code (the server broke the protocol). */
  close(code: number, reason: string): void;
  /** The server's Disconnect packet: its code and reason are what 'disconnect' reports. */
  closedByServer(code: number, reason: string): void;
  /** A room re-joined at connect was answered (or refused). */
  settleRoom(room: string): void;
}

/** Where answers to this client's requests are waiting (the outbound side). */
export interface PendingRequests {
  take(ackId: number): PendingAck | undefined;
}

export class Inbound {
  #ctx: ClientContext;
  #session: InboundSession;
  #requests: PendingRequests;
  #rooms: RoomSet;
  #recovery: Recovery;
  #answers: Answers;
  #received = 0;

  constructor(ctx: ClientContext, session: InboundSession, requests: PendingRequests, rooms: RoomSet, recovery: Recovery, answers: Answers) {
    this.#ctx = ctx;
    this.#session = session;
    this.#requests = requests;
    this.#rooms = rooms;
    this.#recovery = recovery;
    this.#answers = answers;
  }

  /** Events, ACK Requests and ACK Responses received (session packets do not count). */
  get received(): number {
    return this.#received;
  }

  onPacketBytes(bytes: Uint8Array): void {
    const session = this.#session;
    session.touch();
    let packet: Packet;
    try {
      packet = decodePacket(bytes);
    } catch (err) {
      this.#ctx.report(err, 'protocol');
      const closeCode = err instanceof StelarError ? err.closeCode : CloseCode.PROTOCOL_ERROR;
      if (closeCode) session.close(closeCode, 'undecodable packet');
      return;
    }
    switch (packet.type) {
      case PacketType.CONNECT:
        return session.onServerConnect(packet.data);
      case PacketType.JSON:
        return this.#onEvent(packet.event, packet.data, false);
      case PacketType.BINARY:
        return this.#onEvent(packet.event, this.#ctx.platform.binary(packet.data as Uint8Array), true);
      case PacketType.PING:
        return session.control({ type: PacketType.PONG, event: '', data: packet.data });
      case PacketType.PONG:
        return; // counted as life above
      case PacketType.ACK_RESPONSE:
        return this.#onAckResponse(packet);
      case PacketType.ACK_REQUEST:
        // The server asks: the onRequest handler for its ack name answers (answers.ts).
        this.#received++;
        return this.#answers.onRequest(packet);
      case PacketType.JOIN_ROOM:
        // Also sent when the server itself put this client in a room: remember it for reconnects.
        this.#rooms.add(packet.event);
        this.#ctx.emitReserved('room_joined', packet.event);
        return session.settleRoom(packet.event);
      case PacketType.LEAVE_ROOM:
        this.#rooms.delete(packet.event);
        this.#ctx.emitReserved('room_left', packet.event);
        return;
      case PacketType.ERROR:
        return this.#onServerError(packet.event, packet.data);
      case PacketType.DISCONNECT: {
        const body = (packet.data ?? {}) as { code?: unknown; reason?: unknown };
        const code = typeof body.code === 'number' ? body.code : CloseCode.NO_STATUS;
        return session.closedByServer(code, typeof body.reason === 'string' ? body.reason : '');
      }
    }
  }

  /** An event reaches the application: hook, listeners, then its offset counts as processed. */
  deliver(event: string, data: unknown, isBinary: boolean, offset: string | null): void {
    this.#received++;
    if (isReservedEvent(event)) this.#reserved(event, data);
    else {
      this.#ctx.hook('onMessage', { event, data, isBinary });
      this.#ctx.listeners.dispatchEvent(event, data);
    }
    this.#recovery.processed(offset);
  }

  /** The protocol's own events become the client's events; unknown ones (a newer server's) are dropped. */
  #reserved(event: string, data: unknown): void {
    const change = data as { room?: unknown; id?: unknown; data?: unknown } | null;
    if (!change || typeof change.room !== 'string' || typeof change.id !== 'string') return;
    const fields = change.data && typeof change.data === 'object' ? change.data : {};
    const value = { room: change.room, id: change.id, data: fields };
    if (event === ReservedEvent.PRESENCE_JOIN) this.#ctx.emitReserved('presence_join', value);
    else if (event === ReservedEvent.PRESENCE_LEAVE) this.#ctx.emitReserved('presence_leave', value);
  }

  #onEvent(event: string, data: unknown, isBinary: boolean): void {
    const recovery = this.#recovery;
    const cut = recovery.offsetCut(event);
    const offset = cut < 0 ? null : event.slice(cut + 1);
    if (cut >= 0) event = event.slice(0, cut);
    if (recovery.holding) recovery.hold([event, data, isBinary, offset]);
    else this.deliver(event, data, isBinary, offset);
  }

  #onAckResponse(packet: Packet): void {
    this.#received++;
    const ok = packet.ok !== false;
    const ackId = packet.ackId ?? 0;
    const pending = ackId !== 0 ? this.#requests.take(ackId) : undefined;
    if (pending) {
      if (ok) pending.resolve(packet.data);
      else pending.reject(remoteError(packet.data, ErrorCode.ACK_FAILED, `request "${pending.event}" failed on the server`));
    }
    const heard = this.#ctx.listeners.dispatchAck(packet.data, { ok, ackId, name: packet.event });
    if (!heard && !pending) this.#ctx.logger.debug(`ACK response "${packet.event}" (id ${ackId}) with no request or onAck listener`);
  }

  #onServerError(code: string, data: unknown): void {
    const { message } = remoteError(data, ErrorCode.ACK_FAILED, code || 'server error');
    // The Error packet's event is its code; kept as sent, even a custom one from middleware.
    const error = new StelarError((code || ErrorCode.ACK_FAILED) as ErrorCode, message, 0);
    const room = (data as { room?: unknown } | null)?.room;
    if (typeof room === 'string') {
      // A refused join is forgotten (not retried on every reconnection); a refused leave is kept.
      this.#rooms.refused(room);
      this.#session.settleRoom(room);
    }
    this.#ctx.report(error, 'server');
  }
}
