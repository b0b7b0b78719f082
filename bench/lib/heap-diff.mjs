#!/usr/bin/env node
/**
 * `node bench/lib/heap-diff.mjs before.heapsnapshot after.heapsnapshot [connections]`
 * Groups the nodes of two V8 heap snapshots by (type, constructor name) and prints what was
 * added between them: count and self bytes, also per connection. Answers "what does one
 * idle connection keep alive" without opening DevTools.
 */
import { readFileSync } from 'node:fs';

function groups(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const { node_fields: fields, node_types: types } = snap.snapshot.meta;
  const typeNames = types[0];
  const F = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const { nodes, strings } = snap;
  const out = new Map();
  for (let i = 0; i < nodes.length; i += F) {
    const type = typeNames[nodes[i + iType]];
    let name = type === 'string' || type === 'concatenated string' || type === 'sliced string' ? '(string)' : strings[nodes[i + iName]];
    if (type === 'code' || type === 'hidden' || type === 'array') name = `(${type}) ${name.slice(0, 40)}`;
    if (type === 'closure') name = `(closure) ${name}`;
    const key = `${type}\t${name.slice(0, 80)}`;
    const g = out.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += nodes[i + iSize];
    out.set(key, g);
  }
  return out;
}

const [beforeFile, afterFile, perArg] = process.argv.slice(2);
if (!beforeFile || !afterFile) {
  console.error('usage: heap-diff.mjs before.heapsnapshot after.heapsnapshot [connections]');
  process.exit(2);
}
const per = Number(perArg ?? 1);
const before = groups(beforeFile);
const after = groups(afterFile);
const rows = [];
let total = 0;
for (const [key, g] of after) {
  const b = before.get(key) ?? { count: 0, bytes: 0 };
  const dBytes = g.bytes - b.bytes;
  const dCount = g.count - b.count;
  total += dBytes;
  if (dBytes > 0) rows.push({ key, dCount, dBytes });
}
rows.sort((a, b) => b.dBytes - a.dBytes);
console.log(`added: ${(total / 1024).toFixed(0)} KB in all, ${(total / per).toFixed(0)} B per connection (${per} connections)`);
console.log('bytes/conn  objs/conn  type / constructor');
for (const r of rows.slice(0, 40)) {
  const [type, name] = r.key.split('\t');
  console.log(`${(r.dBytes / per).toFixed(1).padStart(9)}  ${(r.dCount / per).toFixed(2).padStart(9)}  ${type} ${name}`);
}
