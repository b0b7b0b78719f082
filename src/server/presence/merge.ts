/**
 * From the nodes' parts to one answer. Each accepted client is on exactly one node, so the
 * count is the sum of the parts; an id listed by two nodes (a custom `generateClientId`
 * handing out the same id twice) is listed once and counted once.
 */
import type { Adapter, AdapterHost, ClientSummary, PresencePart, PresenceQuery } from '../../contracts/index.js';
import type { PresenceMember, PresenceResult } from '../../protocol/index.js';

/** The parts of every live node, over the adapter's cluster query (or this node's alone). */
export async function gatherParts(adapter: Adapter, host: AdapterHost, query: PresenceQuery): Promise<PresencePart[]> {
  if (adapter.fetchPresence) return adapter.fetchPresence(query);
  // A cluster adapter without presence queries: its client rows, projected here.
  if (adapter.fetchClients) return [partFromSummaries(await adapter.fetchClients(query.room), query)];
  return [await host.presence(query)];
}

export function partFromSummaries(rows: readonly ClientSummary[], query: PresenceQuery): PresencePart {
  const members: PresenceMember[] = [];
  for (const row of rows) {
    if (members.length >= query.limit) break;
    const data: Record<string, unknown> = {};
    const metadata = row.metadata ?? {};
    for (const f of query.fields) if (f !== '__proto__' && Object.hasOwn(metadata, f) && metadata[f] !== undefined) data[f] = metadata[f];
    members.push({ id: row.id, data });
  }
  return { count: rows.length, members };
}

export function mergeParts<D>(room: string, parts: readonly PresencePart[], limit: number): PresenceResult<D> {
  const seen = new Set<string>();
  const members: PresenceMember<D>[] = [];
  let count = 0;
  for (const part of parts) {
    count += part.count;
    for (const m of part.members) {
      if (seen.has(m.id)) {
        count--;
        continue;
      }
      seen.add(m.id);
      if (members.length < limit) members.push(m as PresenceMember<D>);
    }
  }
  return { room, count, members, truncated: members.length < count };
}
