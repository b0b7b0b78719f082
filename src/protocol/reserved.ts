/**
 * Event names the protocol keeps for itself (docs/PROTOCOL.md, "Reserved events"). They
 * travel as ordinary JSON events and ACK requests, so version 1 needs no new packet type;
 * a peer that does not know one sees an event it has no listener for.
 *
 * Every name starting with RESERVED_PREFIX belongs to the protocol: a server never hands
 * one to the application's handlers, and applications may not register handlers for them.
 */
export const RESERVED_PREFIX = '$stelar:';

export const ReservedEvent = {
  /** Client -> server ACK request: who is in a room (data `{ room }`, answer a PresenceResult). */
  PRESENCE: '$stelar:presence',
  /** Server -> room members: a member joined (data a PresenceChange). */
  PRESENCE_JOIN: '$stelar:join',
  /** Server -> room members: a member left (data a PresenceChange). */
  PRESENCE_LEAVE: '$stelar:leave',
} as const;
export type ReservedEvent = (typeof ReservedEvent)[keyof typeof ReservedEvent];

/** True for every name the protocol reserves, known to this version or not. */
export function isReservedEvent(name: string): boolean {
  return name.startsWith(RESERVED_PREFIX);
}
