/**
 * The default adapter: rooms in two maps (room -> members, client -> rooms) on this node.
 * A client that never joins a room costs nothing here; an emptied room is deleted at once.
 */
import type { Adapter, AdapterHost, BroadcastTarget, EncodedMessage } from '../contracts/adapter.js';

/** Returned for clients in no room. Callers get it typed read-only; the server never hands it out. */
const NO_ROOMS: ReadonlySet<string> = new Set<string>();

export class MemoryAdapter implements Adapter {
  #host: AdapterHost | null = null;
  #rooms = new Map<string, Set<string>>();
  #clientRooms = new Map<string, Set<string>>();

  init(host: AdapterHost): void {
    this.#host = host;
  }

  addToRoom(id: string, room: string): boolean {
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
    let sent = 0;
    const rooms = target.rooms;
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

  sendTo(id: string, message: EncodedMessage): boolean {
    return this.#host?.getClient(id)?.sendEncoded(message) ?? false;
  }

  close(): void {
    this.#rooms.clear();
    this.#clientRooms.clear();
  }
}
