/**
 * The client and room lists as the dashboard shows them: searched and paginated here, on the
 * server, so a page with 10,000 clients and 5,000 rooms receives one page of rows a second
 * and never the whole registry. Every string a row carries is clipped, so the size of a
 * message has a bound whatever names and ids the application uses.
 */
import type { TransportProtocol } from '../../contracts/index.js';

/** Rows per page of each list. */
export const PAGE_SIZE = 20;
/** Longest search text kept (characters). */
export const MAX_QUERY = 64;
/** Longest id kept: longer ids are shown clipped (and cannot be disconnected from the page). */
const MAX_ID = 256;
/** Longest address or room name kept. */
const MAX_TEXT = 128;
/** Room names listed per client row (the row also says how many rooms there are). */
const ROOMS_PER_ROW = 3;

export interface ListRequest {
  /** Search text, lower-case ('' = everything). */
  q: string;
  /** 0-based page. */
  page: number;
}

export interface PageOf<R> {
  /** Rows in the list before the search. */
  all: number;
  /** Rows matching the search. */
  matched: number;
  /** The page shown (clamped to the last one). */
  page: number;
  rows: R[];
}

/** What a client row is read from (a live session). */
export interface ClientSource {
  readonly id: string;
  readonly protocol: TransportProtocol;
  readonly remoteAddress: string;
  readonly connectedAt: number;
}

export interface ClientRow {
  id: string;
  protocol: TransportProtocol;
  address: string;
  /** How many rooms, and the first few of them. */
  rooms: number;
  roomNames: string[];
  connectedAt: number;
}

export interface RoomRow {
  name: string;
  members: number;
}

const clip = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

/** A list request from the page, made safe: anything odd becomes the first page of everything. */
export function listRequest(value: unknown): ListRequest {
  const v = (value && typeof value === 'object' ? value : {}) as { q?: unknown; page?: unknown };
  const q = typeof v.q === 'string' ? v.q.slice(0, MAX_QUERY).trim().toLowerCase() : '';
  const page = typeof v.page === 'number' && Number.isInteger(v.page) && v.page > 0 ? Math.min(v.page, 1_000_000) : 0;
  return { q, page };
}

/** The requested page of `items`, clamped to the last page that has rows. */
function pageOf<T>(items: T[], page: number): { page: number; slice: T[] } {
  const last = Math.max(0, Math.ceil(items.length / PAGE_SIZE) - 1);
  const p = Math.min(page, last);
  return { page: p, slice: items.slice(p * PAGE_SIZE, (p + 1) * PAGE_SIZE) };
}

/** Clients whose id or address contains the search text, one page of them. */
export function clientPage(clients: Iterable<ClientSource>, roomsOf: (id: string) => ReadonlySet<string>, req: ListRequest): PageOf<ClientRow> {
  const matched: ClientSource[] = [];
  let all = 0;
  for (const c of clients) {
    all++;
    if (req.q === '' || c.id.toLowerCase().includes(req.q) || c.remoteAddress.toLowerCase().includes(req.q)) matched.push(c);
  }
  const { page, slice } = pageOf(matched, req.page);
  const rows = slice.map((c): ClientRow => {
    const rooms = roomsOf(c.id);
    const roomNames: string[] = [];
    for (const r of rooms) {
      if (roomNames.length === ROOMS_PER_ROW) break;
      roomNames.push(clip(r, MAX_TEXT));
    }
    return { id: clip(c.id, MAX_ID), protocol: c.protocol, address: clip(c.remoteAddress, MAX_TEXT), rooms: rooms.size, roomNames, connectedAt: c.connectedAt };
  });
  return { all, matched: matched.length, page, rows };
}

/** Rooms whose name contains the search text, one page of them with their member counts. */
export function roomPage(rooms: readonly string[], membersOf: (room: string) => number, req: ListRequest): PageOf<RoomRow> {
  const matched = req.q === '' ? (rooms as string[]) : rooms.filter((r) => r.toLowerCase().includes(req.q));
  const { page, slice } = pageOf(matched, req.page);
  return { all: rooms.length, matched: matched.length, page, rows: slice.map((name) => ({ name: clip(name, MAX_TEXT), members: membersOf(name) })) };
}
