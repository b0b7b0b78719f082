// ChannelWatch (Redis Cluster's per-channel canaries) on its own, with a fake clock: one
// "lost" when the first channel goes deaf, one "back" when the last one delivers again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelWatch } from '../../dist/adapter/redis/channel-watch.js';

function watch(channels, grace = 1000) {
  const sent = [];
  const events = [];
  const w = new ChannelWatch(channels, grace, (c) => sent.push(c), {
    lost: (list, first) => events.push(['lost', list, first]),
    back: () => events.push(['back']),
  });
  return { w, sent, events };
}

test('canaries that come back: nothing reported, one canary in flight per channel', () => {
  const { w, sent, events } = watch(['a', 'b']);
  w.tick(0);
  assert.deepEqual(sent, ['a', 'b']);
  w.tick(500); // still in flight, within grace: no new canary
  assert.deepEqual(sent, ['a', 'b']);
  w.echo('a');
  w.echo('b');
  w.tick(600);
  assert.deepEqual(sent, ['a', 'b', 'a', 'b']);
  assert.deepEqual(events, []);
  assert.equal(w.lost.size, 0);
});

test('deaf channels: one first loss, later losses not first, one back when the last returns', () => {
  const { w, sent, events } = watch(['a', 'b', 'c']);
  w.tick(0);
  w.echo('c');
  w.tick(1500); // a and b overdue
  assert.deepEqual(events, [['lost', ['a', 'b'], true]]);
  w.tick(1600); // c's second canary goes out; a and b got fresh ones at 1500
  w.tick(3000); // c overdue now too
  assert.deepEqual(events.at(-1), ['lost', ['c'], false]);
  assert.deepEqual([...w.lost].sort(), ['a', 'b', 'c']);
  w.echo('a');
  w.echo('b');
  assert.equal(events.filter(([e]) => e === 'back').length, 0, 'c is still deaf');
  w.echo('c');
  assert.deepEqual(events.at(-1), ['back']);
  w.echo('c'); // a late duplicate changes nothing
  assert.equal(events.filter(([e]) => e === 'back').length, 1);
  assert.ok(sent.length >= 7);
  w.reset();
  assert.equal(w.lost.size, 0);
});
