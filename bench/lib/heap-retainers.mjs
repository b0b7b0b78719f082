#!/usr/bin/env node
/**
 * `node bench/lib/heap-retainers.mjs file.heapsnapshot <name> [N]` — for every node whose
 * constructor/closure name (or '(string)') is <name>, counts who holds it: the retainer's
 * name and the edge (property) name. Answers "which field keeps these alive".
 * For closures, the function name is shown as "(closure) <fn>", so pass e.g. "onFrame";
 * an empty name ('') matches anonymous closures.
 */
import { readFileSync } from 'node:fs';

const [file, wanted, topArg] = process.argv.slice(2);
if (!file || wanted === undefined) {
  console.error('usage: heap-retainers.mjs file.heapsnapshot <name> [N]');
  process.exit(2);
}
const snap = JSON.parse(readFileSync(file, 'utf8'));
const meta = snap.snapshot.meta;
const NF = meta.node_fields.length;
const EF = meta.edge_fields.length;
const nType = meta.node_fields.indexOf('type');
const nName = meta.node_fields.indexOf('name');
const nEdges = meta.node_fields.indexOf('edge_count');
const eType = meta.edge_fields.indexOf('type');
const eName = meta.edge_fields.indexOf('name_or_index');
const eTo = meta.edge_fields.indexOf('to_node');
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const { nodes, edges, strings } = snap;

const nameOf = (i) => {
  const t = nodeTypes[nodes[i + nType]];
  if (t === 'string' || t === 'concatenated string' || t === 'sliced string') return '(string)';
  return strings[nodes[i + nName]];
};
const typeOf = (i) => nodeTypes[nodes[i + nType]];
const counts = new Map();
let matched = 0;
let e = 0;
for (let i = 0; i < nodes.length; i += NF) {
  const count = nodes[i + nEdges];
  for (let k = 0; k < count; k++, e += EF) {
    const to = edges[e + eTo];
    if (nameOf(to) !== wanted) continue;
    const et = edgeTypes[edges[e + eType]];
    if (et === 'weak') continue;
    const edgeName = et === 'element' || et === 'hidden' ? `[${et}]` : strings[edges[e + eName]];
    const key = `${typeOf(to)} <- ${typeOf(i)} ${nameOf(i).slice(0, 50)} .${edgeName}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    matched++;
  }
}
console.log(`${matched} references to '${wanted}'`);
for (const [k, c] of [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 25))) console.log(String(c).padStart(8), k);
