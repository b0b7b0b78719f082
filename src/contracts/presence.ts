/**
 * Presence across the server/adapter seam. A presence query names a room, the metadata
 * fields to expose and how many members to list; each node answers for its own clients with
 * a `PresencePart`, and the asking node merges the parts (src/server/presence/). Nothing is
 * replicated: a node's clients are counted by that node, so a count is exact as soon as
 * every live node answered, and a dead node's clients are simply not in any answer.
 *
 * A cluster adapter carries queries between nodes as JSON: `readPresenceQuery` and
 * `readPresencePart` check what came from another node before it is used.
 */
import type { PresenceMember } from '../protocol/index.js';

export interface PresenceQuery {
  room: string;
  /** Metadata keys copied into each member's `data` (nothing else is). */
  fields: readonly string[];
  /** Most members listed; members past it are counted, not listed. */
  limit: number;
}

/** One node's answer: its members of the room (up to the limit) and how many there are. */
export interface PresencePart {
  count: number;
  members: PresenceMember[];
}

/** Bounds on a query that came from elsewhere (a forged one cannot ask for more). */
const MAX_FIELDS = 64;
const MAX_LIMIT = 1_000_000;

/** A query received from another node, checked; null when it is not one. */
export function readPresenceQuery(value: unknown): PresenceQuery | null {
  const q = value as Partial<PresenceQuery> | null;
  if (!q || typeof q !== 'object' || typeof q.room !== 'string' || q.room === '') return null;
  const fields = q.fields;
  if (!Array.isArray(fields) || fields.length > MAX_FIELDS || fields.some((f) => typeof f !== 'string')) return null;
  const limit = q.limit;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0 || limit > MAX_LIMIT) return null;
  return { room: q.room, fields: [...fields], limit };
}

/** A part received from another node, checked (rows that are not members are dropped); null when it is not one. */
export function readPresencePart(value: unknown): PresencePart | null {
  const p = value as Partial<PresencePart> | null;
  if (!p || typeof p !== 'object' || typeof p.count !== 'number' || !Number.isInteger(p.count) || p.count < 0 || !Array.isArray(p.members)) return null;
  const members: PresenceMember[] = [];
  for (const m of p.members as unknown[]) {
    const row = m as Partial<PresenceMember> | null;
    if (!row || typeof row.id !== 'string') continue;
    const data = row.data && typeof row.data === 'object' && !Array.isArray(row.data) ? row.data : {};
    members.push({ id: row.id, data });
  }
  return { count: Math.max(p.count, members.length), members };
}
