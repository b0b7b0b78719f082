/**
 * Joining and leaving rooms, for a client's own Join/Leave packets and for the server's
 * `ctx.joinRoom()` alike: the limits and hooks are checked here, membership itself lives in
 * the adapter, and presence hears of each change (it announces the rooms that ask for it).
 */
import type { Adapter } from '../contracts/index.js';
import { ErrorCode, StelarError } from '../protocol/index.js';
import { runHook } from './hooks.js';
import { checkRoomJoin } from './limits.js';
import type { ResolvedConfig } from './options.js';
import type { Presence } from './presence/presence.js';
import { type Session, SessionState } from './session.js';

export class RoomPolicy {
  readonly #config: ResolvedConfig;
  readonly #adapter: Adapter;
  /** Told of every change, for the rooms that announce joins and leaves. */
  readonly #presence: Presence | null;

  constructor(config: ResolvedConfig, adapter: Adapter, presence: Presence | null = null) {
    this.#config = config;
    this.#adapter = adapter;
    this.#presence = presence;
  }

  /** null = the client is in the room (joined now or already); else why not. */
  joinRoom(session: Session, room: string): StelarError | null {
    const a = this.#adapter;
    if (session.state >= SessionState.CLOSING) return new StelarError(ErrorCode.NOT_CONNECTED, 'client is disconnected');
    if (typeof room === 'string' && a.isMember(session.id, room)) return null;
    const refusal = checkRoomJoin(this.#config, {
      clientId: session.id,
      room,
      protocol: session.protocol,
      currentRooms: a.roomsOf(session.id).size,
      totalRooms: a.roomCount(),
      roomExists: typeof room === 'string' && a.hasRoom(room),
      metadata: () => session.metadata,
    });
    if (refusal) return refusal;
    a.addToRoom(session.id, room);
    this.#presence?.joined(session, room);
    return null;
  }

  /** null = the client is not in the room (left now or was not); else why it may not leave. */
  leaveRoom(session: Session, room: string): StelarError | null {
    const a = this.#adapter;
    if (typeof room !== 'string' || !a.isMember(session.id, room)) return null;
    const c = this.#config;
    if (c.hooks.onClientLeaveRoom) {
      const ok = runHook(c.hooks, 'onClientLeaveRoom', { clientId: session.id, room, metadata: session.metadata, protocol: session.protocol }, c.logger);
      if (!ok) return new StelarError(ErrorCode.ROOM_REJECTED, `leaving room "${room}" was refused`);
    }
    a.removeFromRoom(session.id, room);
    this.#presence?.left(session, room);
    return null;
  }

  roomsOf(id: string): ReadonlySet<string> {
    return this.#adapter.roomsOf(id);
  }
}
