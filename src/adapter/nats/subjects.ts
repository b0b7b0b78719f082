/**
 * The subjects of one cluster (one prefix):
 *
 *   <prefix>.all            broadcasts to everyone, multi-room sends, toId, hello/bye, queries
 *   <prefix>.room.<token>   sends to one room; a node listens while the room has local members
 *   <prefix>.node.<nodeId>  what is meant for one node: answers to its queries, a hello back
 *
 * Room names are arbitrary strings and subject tokens are not (no dots, spaces, wildcards),
 * so a room becomes `r` + the base64url of its UTF-8 bytes, or, past ROOM_BYTES, `h` + the
 * base64url of its SHA-256: every token is at most 1 + ceil(ROOM_BYTES * 4 / 3) characters.
 * Two long names sharing a hash would only share traffic: every envelope names its rooms and
 * the receiving node checks them.
 */
import { createHash } from 'node:crypto';

/** Longest room name (UTF-8 bytes) spelled out in its subject; longer ones are hashed. */
export const ROOM_BYTES = 192;

const TOKEN = /^[A-Za-z0-9_-]+$/;
const PREFIX = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

/** Throws a TypeError unless `prefix` is one or more plain subject tokens ('stelar', 'app.prod'). */
export function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || prefix.length > 128 || !PREFIX.test(prefix)) {
    throw new TypeError('subjectPrefix must be subject tokens of letters, digits, - and _, separated by dots (at most 128 characters)');
  }
  return prefix;
}

/** Can `nodeId` be a subject token? Checked on every origin before it becomes a subject. */
export function isNodeId(nodeId: unknown): nodeId is string {
  return typeof nodeId === 'string' && nodeId.length <= 64 && TOKEN.test(nodeId);
}

/** Throws a TypeError unless `nodeId` can be a subject token. */
export function checkNodeId(nodeId: unknown): string {
  if (!isNodeId(nodeId)) {
    throw new TypeError('nodeId must be 1 to 64 letters, digits, - or _');
  }
  return nodeId;
}

export function roomToken(room: string): string {
  const bytes = Buffer.from(room, 'utf8');
  if (bytes.length <= ROOM_BYTES) return `r${bytes.toString('base64url')}`;
  return `h${createHash('sha256').update(bytes).digest('base64url')}`;
}

export class Subjects {
  readonly all: string;
  readonly own: string;
  readonly #prefix: string;

  constructor(prefix: string, nodeId: string) {
    this.#prefix = prefix;
    this.all = `${prefix}.all`;
    this.own = this.node(nodeId);
  }

  node(nodeId: string): string {
    return `${this.#prefix}.node.${nodeId}`;
  }

  room(room: string): string {
    return `${this.#prefix}.room.${roomToken(room)}`;
  }
}
