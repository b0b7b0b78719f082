// The demo's history stores: the file one survives a reopen, keeps only the last N per room and a
// bounded number of rooms, and starts empty from a damaged file; the Redis one (real Redis on
// 127.0.0.1:6379, as in test/redis) trims the same way and is shared by two openings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileHistory, createRedisHistory, openHistory } from '../../demo/history-store.mjs';

const quiet = { warn() {} };
const entry = (room, i) => ({ id: `${room}-${i}`, room, from: 'a', text: `m${i}`, ts: i });

test('file history: bounded per room and in rooms, and there again after a reopen', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stelar-demo-history-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'h.json');
  const first = await createFileHistory({ file, limit: 3, maxRooms: 2, logger: quiet });
  for (let i = 1; i <= 5; i++) await first.add('a', entry('a', i));
  await first.add('b', entry('b', 1));
  await first.add('c', entry('c', 1)); // a third room: the least recently used ('a') is dropped
  await first.close();

  const second = await createFileHistory({ file, limit: 3, maxRooms: 2, logger: quiet });
  assert.deepEqual(await second.recent('a'), []);
  assert.deepEqual(
    (await second.recent('b')).map((m) => m.text),
    ['m1'],
  );
  await second.add('b', entry('b', 2));
  await second.close();
  const third = await createFileHistory({ file, limit: 3, logger: quiet });
  assert.deepEqual(
    (await third.recent('b')).map((m) => m.text),
    ['m1', 'm2'],
  );

  const limited = await createFileHistory({ file: join(dir, 'l.json'), limit: 3, logger: quiet });
  for (let i = 1; i <= 5; i++) await limited.add('a', entry('a', i));
  await limited.close();
  assert.deepEqual(
    (await (await createFileHistory({ file: join(dir, 'l.json'), limit: 3 })).recent('a')).map((m) => m.text),
    ['m3', 'm4', 'm5'],
  );
});

test('file history: a damaged file is reported and the store starts empty', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stelar-demo-history-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'h.json');
  writeFileSync(file, '{ not json');
  const warnings = [];
  const store = await createFileHistory({ file, logger: { warn: (w) => warnings.push(w) } });
  assert.deepEqual(await store.recent('general'), []);
  assert.equal(warnings.length, 1);
  const fallback = await openHistory({ HISTORY_FILE: file }, quiet);
  assert.equal(fallback.file, file, 'HISTORY_FILE is where npm start keeps it');
});

test('Redis history: the last N per room, seen by a second opening', async (t) => {
  const prefix = `stelar-demo-test-${process.pid}-${Date.now()}:`;
  const url = 'redis://127.0.0.1:6379';
  const one = await createRedisHistory({ url, limit: 3, prefix, logger: quiet });
  const two = await createRedisHistory({ url, limit: 3, prefix, logger: quiet });
  t.after(async () => {
    const { createClient } = await import('redis');
    const c = createClient({ url });
    await c.connect();
    await c.del([`${prefix}general`]);
    await c.close();
    await one.close();
    await two.close();
  });
  for (let i = 1; i <= 5; i++) await one.add('general', entry('general', i));
  assert.deepEqual(
    (await two.recent('general')).map((m) => m.text),
    ['m3', 'm4', 'm5'],
  );
  assert.deepEqual(await two.recent('empty'), []);
});
