/**
 * The default adapter: rooms in two maps (room -> members, client -> rooms) on this node.
 * A client that never joins a room costs nothing here; an emptied room is deleted at once.
 *
 * Broadcast runs: consecutive broadcasts to the same room in one tick are handed to the
 * members once, as a `MessageRun`, when the tick's writes are flushed (or before anything
 * else is written, or before the room's membership changes): one send per member per tick
 * instead of one per message. The members, their order of messages and the count returned
 * are those of the moment of each call; only the hand-over is deferred.
 */
import type { Adapter, AdapterHost, BroadcastTarget, EncodedMessage } from '../contracts/adapter.js';
import { deferUntilWrite, runDeferredWrites } from '../net/write-batcher.js';
import { MessageRun } from '../wire/index.js';

/** Returned for clients in no room. Callers get it typed read-only; the server never hands it out. */
const NO_ROOMS: ReadonlySet<string> = new Set<string>();

/** Broadcasts to one room not yet handed to its members. */
interface PendingRun {
  readonly members: Set<string>;
  readonly exceptId: string | undefined;
  readonly messages: EncodedMessage[];
  readonly count: number;
}

export class MemoryAdapter implements Adapter {
  #host: AdapterHost | null = null;
  #rooms = new Map<string, Set<string>>();
  #clientRooms = new Map<string, Set<string>>();
  #run: PendingRun | null = null;
  /** Bound once: the write batcher compares it to know whether the deferred work is ours. */
  readonly #deliverRun = (): void => this.#deliver();

  init(host: AdapterHost): void {
    this.#host = host;
  }

  addToRoom(id: string, room: string): boolean {
    if (this.#run !== null) runDeferredWrites();
    let members = this.#rooms.get(room);
    if (members?.has(id)) return false;
    if (!members) {
      members = new Set();
      this.#rooms.set(room, members);
    }
    members.add(id);
    let mine = this.#clientRooms.get(id);
    if (!mine) {
      mine = new Set();
      this.#clientRooms.set(id, mine);
    }
    mine.add(room);
    return true;
  }

  removeFromRoom(id: string, room: string): boolean {
    if (this.#run !== null) runDeferredWrites();
    const members = this.#rooms.get(room);
    if (!members?.delete(id)) return false;
    if (members.size === 0) this.#rooms.delete(room);
    const mine = this.#clientRooms.get(id);
    if (mine) {
      mine.delete(room);
      if (mine.size === 0) this.#clientRooms.delete(id);
    }
    return true;
  }

  removeAll(id: string): void {
    if (this.#run !== null) runDeferredWrites();
    const mine = this.#clientRooms.get(id);
    if (!mine) return;
    this.#clientRooms.delete(id);
    for (const room of mine) {
      const members = this.#rooms.get(room);
      if (!members) continue;
      members.delete(id);
      if (members.size === 0) this.#rooms.delete(room);
    }
  }

  hasRoom(room: string): boolean {
    return this.#rooms.has(room);
  }

  roomCount(): number {
    return this.#rooms.size;
  }

  getRooms(): string[] {
    return [...this.#rooms.keys()];
  }

  getRoomMembers(room: string): string[] {
    const members = this.#rooms.get(room);
    return members ? [...members] : [];
  }

  roomsOf(id: string): ReadonlySet<string> {
    return this.#clientRooms.get(id) ?? NO_ROOMS;
  }

  isMember(id: string, room: string): boolean {
    return this.#rooms.get(room)?.has(id) ?? false;
  }

  broadcast(message: EncodedMessage, target: BroadcastTarget): number {
    const host = this.#host;
    if (!host) return 0;
    const except = target.exceptId;
    const rooms = target.rooms;
    // One room and an unrecorded message (recorded ones are per-session: offsets, replay
    // cut-offs): deferred as part of a run.
    if (rooms?.length === 1 && message.offset === undefined) return this.#defer(message, rooms[0]!, except);
    if (this.#run !== null) runDeferredWrites();
    let sent = 0;
    if (!rooms) {
      for (const client of host.clients()) {
        if (client.id !== except && client.sendEncoded(message)) sent++;
      }
      return sent;
    }
    // One room needs no de-duplication (the common case: one null check per member); several
    // do (a client in two rooms gets it once).
    const seen = rooms.length > 1 ? new Set<string>() : null;
    for (const room of rooms) {
      const members = this.#rooms.get(room);
      if (!members) continue;
      for (const id of members) {
        if (id === except) continue;
        if (seen) {
          if (seen.has(id)) continue;
          seen.add(id);
        }
        const client = host.getClient(id);
        if (client?.sendEncoded(message)) sent++;
      }
    }
    return sent;
  }

  /**
   * Joins the pending run when it is for the same members, or starts one. The count is the
   * room's members now, minus the excluded one: the clients the message is addressed to (a
   * member whose connection closes or is cut as a slow consumer before the hand-over still
   * counts, as it would have if its close had come a moment later).
   */
  #defer(message: EncodedMessage, room: string, exceptId: string | undefined): number {
    const members = this.#rooms.get(room);
    const run = this.#run;
    if (run !== null && run.members === members && run.exceptId === exceptId) {
      run.messages.push(message);
      return run.count;
    }
    if (run !== null || !members) runDeferredWrites();
    if (!members) return 0;
    const count = exceptId !== undefined && members.has(exceptId) ? members.size - 1 : members.size;
    if (count === 0) return 0;
    this.#run = { members, exceptId, messages: [message], count };
    deferUntilWrite(this.#deliverRun);
    return count;
  }

  /** Hands the pending run to the members (called by the write batcher, once). */
  #deliver(): void {
    const run = this.#run;
    const host = this.#host;
    if (run === null) return;
    this.#run = null;
    if (!host) return;
    const messages = run.messages;
    const message = messages.length === 1 ? messages[0]! : new MessageRun(messages);
    const except = run.exceptId;
    for (const id of run.members) {
      if (id !== except) host.getClient(id)?.sendEncoded(message);
    }
  }

  sendTo(id: string, message: EncodedMessage): boolean {
    if (this.#run !== null) runDeferredWrites();
    return this.#host?.getClient(id)?.sendEncoded(message) ?? false;
  }

  close(): void {
    if (this.#run !== null) runDeferredWrites();
    this.#rooms.clear();
    this.#clientRooms.clear();
  }
}
