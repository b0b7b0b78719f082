// The metrics registry and its text exposition (src/server/metrics/), without a server:
// declared label values only, slots laid out as the server's counters are, histograms
// cumulative with +Inf, escaping; and promtool, the real parser, accepts what we write
// (and is shown to refuse a broken exposition, so its verdict means something).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from '../../dist/server/metrics/registry.js';
import { CONTENT_TYPE, escapeHelp, escapeLabelValue, exposition, formatValue } from '../../dist/server/metrics/exposition.js';
import { ERROR_CODES, PACKET_TYPES, trafficSlot, errorSlot } from '../../dist/server/metrics/labels.js';
import { ErrorCode, PacketType } from '../../dist/protocol/index.js';
import { assertPromtoolAccepts, needPromtool, promtoolCheck } from '../support/promtool.mjs';

test('a family has one series per combination of its declared values, first label most significant', () => {
  const r = new Registry();
  const c = r.counter({ name: 'x_total', help: 'x', labels: { a: ['p', 'q'], b: ['u', 'v', 'w'] } });
  assert.equal(c.size, 6);
  assert.equal(c.slot({ a: 'p', b: 'u' }), 0);
  assert.equal(c.slot({ a: 'p', b: 'w' }), 2);
  assert.equal(c.slot({ a: 'q', b: 'u' }), 3);
  for (let i = 0; i < c.size; i++) {
    const [a, b] = c.labelsAt(i);
    assert.equal(c.slot({ a, b }), i);
  }
});

test('a value, label or name that was not declared is refused', () => {
  const r = new Registry();
  const c = r.counter({ name: 'x_total', help: 'x', labels: { a: ['p'] } });
  assert.throws(() => c.slot({ a: 'room-42' }), RangeError);
  assert.throws(() => c.slot({ a: 'p', b: 'p' }), RangeError);
  assert.throws(() => c.slot({}), RangeError);
  assert.throws(() => r.counter({ name: 'x_total', help: 'again' }), /declared twice/);
  assert.throws(() => r.gauge({ name: 'bad-name', help: 'x' }), TypeError);
  assert.throws(() => r.gauge({ name: 'y', help: 'x', labels: { __a: ['1'] } }), TypeError);
  assert.throws(() => r.gauge({ name: 'y', help: 'x', labels: { a: [] } }), TypeError);
  assert.throws(() => r.gauge({ name: 'y', help: 'x', labels: { a: ['1', '1'] } }), TypeError);
  assert.throws(() => r.histogram({ name: 'h', help: 'x', labels: { le: ['1'] } }, [1]), TypeError);
  assert.throws(() => r.histogram({ name: 'h', help: 'x' }, [2, 1]), RangeError);
  // A histogram takes its _bucket/_sum/_count names too.
  r.histogram({ name: 'z', help: 'x' }, [1]);
  assert.throws(() => r.counter({ name: 'z_count', help: 'x' }), /declared twice/);
});

test('copy() takes a plain counter array of exactly the family size', () => {
  const r = new Registry();
  const c = r.counter({ name: 'x_total', help: 'x', labels: { a: ['p', 'q'] } });
  c.copy(Float64Array.of(3, 4));
  assert.deepEqual([...c.values], [3, 4]);
  assert.throws(() => c.copy([1, 2, 3]), RangeError);
});

test('histogram: per-bucket counts exposed cumulatively, +Inf last and equal to _count, _sum', () => {
  const r = new Registry();
  const h = r.histogram({ name: 'lat_seconds', help: 'latency', labels: { t: ['ws', 'tcp'] } }, [0.1, 1]);
  const ws = h.slot({ t: 'ws' });
  for (const v of [0.05, 0.1, 0.5, 2, Number.NaN]) h.observe(ws, v);
  const text = exposition(r.collect());
  assert.match(text, /^lat_seconds_bucket\{t="ws",le="0\.1"\} 2$/m, 'le is inclusive');
  assert.match(text, /^lat_seconds_bucket\{t="ws",le="1"\} 3$/m);
  assert.match(text, /^lat_seconds_bucket\{t="ws",le="\+Inf"\} 4$/m);
  assert.match(text, /^lat_seconds_count\{t="ws"\} 4$/m, 'NaN is not counted');
  assert.match(text, /^lat_seconds_sum\{t="ws"\} 2\.65$/m);
  assert.match(text, /^lat_seconds_bucket\{t="tcp",le="\+Inf"\} 0$/m);
  assert.match(text, /^# TYPE lat_seconds histogram$/m);
});

test('escaping: HELP (backslash, newline), label values (backslash, quote, newline); special values', () => {
  assert.equal(escapeHelp('a\\b\nc "q"'), 'a\\\\b\\nc "q"');
  assert.equal(escapeLabelValue('a\\b\nc "q"'), 'a\\\\b\\nc \\"q\\"');
  assert.equal(formatValue(Number.POSITIVE_INFINITY), '+Inf');
  assert.equal(formatValue(Number.NEGATIVE_INFINITY), '-Inf');
  assert.equal(formatValue(Number.NaN), 'NaN');
  assert.equal(formatValue(1.5e-7), '1.5e-7');
  assert.equal(CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
});

test('promtool accepts an exposition with escapes, special values and a labelled histogram', (t) => {
  if (!needPromtool(t)) return;
  const r = new Registry();
  const c = r.counter({ name: 'odd_total', help: 'help with \\ and\nnewline', labels: { v: ['a"b', 'c\\d', 'e\nf'] } });
  c.inc(c.slot({ v: 'a"b' }), 2);
  const g = r.gauge({ name: 'odd_value', help: 'special values', labels: { k: ['inf', 'nan', 'tiny'] } });
  g.set(0, Number.POSITIVE_INFINITY);
  g.set(1, Number.NaN);
  g.set(2, 1.5e-7);
  const h = r.histogram({ name: 'odd_seconds', help: 'h', labels: { t: ['ws', 'tcp'] } }, [0.001, 0.5, 10]);
  h.observe(1, 0.2);
  assertPromtoolAccepts(exposition(r.collect()));
});

test('promtool is a real judge: it refuses a counter without _total and a broken line', (t) => {
  if (!needPromtool(t)) return;
  const r = new Registry();
  r.counter({ name: 'requests', help: 'no suffix' });
  assert.notEqual(promtoolCheck(exposition(r.collect())).status, 0);
  assert.notEqual(promtoolCheck('x{a="1" 1\n').status, 0);
});

test('the label tables: packet types by their protocol number, then unknown; codes, then other', () => {
  for (const [name, value] of Object.entries(PacketType)) assert.equal(PACKET_TYPES[value], name.toLowerCase(), name);
  assert.equal(PACKET_TYPES.at(-1), 'unknown');
  assert.equal(trafficSlot('ws', 200), PACKET_TYPES.length - 1);
  assert.equal(trafficSlot('ws', undefined), PACKET_TYPES.length - 1, 'an empty packet has no type byte');
  assert.equal(trafficSlot('tcp', PacketType.JSON), PACKET_TYPES.length);
  for (const code of Object.values(ErrorCode)) assert.equal(ERROR_CODES[errorSlot(code)], code);
  assert.equal(ERROR_CODES[errorSlot('MY_OWN_CODE')], 'other');
});
