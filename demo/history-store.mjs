// Room history that outlives the process. Three stores with one shape:
//   recent(room) -> Promise<entry[]> (oldest first), add(room, entry) -> Promise, close() -> Promise.
// The demo needs no setup: by default history is a JSON file under the OS temp dir; with REDIS_URL
// set it lives in Redis instead (the `redis` package is only loaded then).
import { readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const HISTORY_LIMIT = 50; // messages kept per room
const MAX_ROOMS = 500; // rooms kept; the least recently used is forgotten first

/** History in memory only: what the tests use when they do not care about restarts. */
export function createMemoryHistory({ limit = HISTORY_LIMIT, maxRooms = MAX_ROOMS } = {}) {
  /** @type {Map<string, object[]>} insertion order = least recently used first */
  const rooms = new Map();
  return {
    rooms,
    async recent(room) {
      return [...(rooms.get(room) ?? [])];
    },
    async add(room, entry) {
      const list = rooms.get(room) ?? [];
      rooms.delete(room); // re-inserted below: this room becomes the most recently used
      list.push(entry);
      if (list.length > limit) list.splice(0, list.length - limit);
      rooms.set(room, list);
      if (rooms.size > maxRooms) rooms.delete(rooms.keys().next().value);
    },
    async close() {},
  };
}

/** The memory store, saved to `file` after each change (whole file, written aside then renamed). */
export async function createFileHistory({ file, limit = HISTORY_LIMIT, maxRooms = MAX_ROOMS, logger = console }) {
  const memory = createMemoryHistory({ limit, maxRooms });
  try {
    const saved = JSON.parse(await readFile(file, 'utf8'));
    for (const [room, list] of Object.entries(saved.rooms ?? {})) {
      if (Array.isArray(list)) memory.rooms.set(room, list.slice(-limit));
    }
  } catch (err) {
    // No file yet is the normal first start; a damaged one must not keep the chat from starting.
    if (err.code !== 'ENOENT') logger.warn(`history file ${file} unreadable (${err.message}); starting empty`);
  }

  // One write at a time; changes made during a write are saved by the next one.
  let writing = Promise.resolve();
  let dirty = false;
  const save = () => {
    if (dirty) return writing;
    dirty = true;
    writing = writing.then(async () => {
      dirty = false;
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        await writeFile(tmp, JSON.stringify({ rooms: Object.fromEntries(memory.rooms) }));
        await rename(tmp, file); // a crash mid-write leaves the previous file whole
      } catch (err) {
        logger.warn(`could not save history to ${file}: ${err.message}`);
      }
    });
    return writing;
  };

  return {
    file,
    recent: memory.recent,
    async add(room, entry) {
      await memory.add(room, entry);
      save();
    },
    async close() {
      await writing;
    },
  };
}

/** History in Redis: one list per room, trimmed to the last `limit` entries on every push. */
export async function createRedisHistory({ url, limit = HISTORY_LIMIT, prefix = 'stelar-demo:history:', logger = console }) {
  const { createClient } = await import('redis');
  const client = createClient({ url });
  client.on('error', (err) => logger.warn(`redis: ${err.message}`));
  await client.connect();
  const key = (room) => `${prefix}${room}`;
  return {
    url,
    async recent(room) {
      return (await client.lRange(key(room), 0, -1)).map((s) => JSON.parse(s));
    },
    async add(room, entry) {
      await client.multi().rPush(key(room), JSON.stringify(entry)).lTrim(key(room), -limit, -1).exec();
    },
    async close() {
      await (typeof client.close === 'function' ? client.close() : client.quit());
    },
  };
}

/** The store `npm start` uses: Redis when REDIS_URL is set, else HISTORY_FILE or a file under the temp dir. */
export function openHistory(env = process.env, logger = console) {
  if (env.REDIS_URL) return createRedisHistory({ url: env.REDIS_URL, logger });
  return createFileHistory({ file: env.HISTORY_FILE || join(tmpdir(), 'stelar-demo-history.json'), logger });
}
