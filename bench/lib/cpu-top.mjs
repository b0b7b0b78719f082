#!/usr/bin/env node
/**
 * `node bench/lib/cpu-top.mjs file.cpuprofile [N]` — self time and total time per
 * function (name, file:line) from a `--cpu-prof` profile, top N by self time, with the
 * share of all non-idle samples. Enough to find the hot path without DevTools.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: cpu-top.mjs file.cpuprofile [N]');
  process.exit(2);
}
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const selfCount = new Map();
for (const id of profile.samples) selfCount.set(id, (selfCount.get(id) ?? 0) + 1);

const label = (n) => {
  const f = n.callFrame;
  const url = f.url ? relative(process.cwd(), f.url.replace(/^file:\/\//, '')) : '';
  return `${f.functionName || '(anonymous)'} ${url ? `${url}:${f.lineNumber + 1}` : ''}`.trim();
};
const self = new Map();
const total = new Map();
let busy = 0;
let gc = 0;
let all = 0;
for (const [id, count] of selfCount) {
  const n = byId.get(id);
  all += count;
  const name = n.callFrame.functionName;
  if (name === '(garbage collector)') gc += count;
  if (name === '(idle)') continue;
  busy += count;
  const key = label(n);
  self.set(key, (self.get(key) ?? 0) + count);
  // Total time: each distinct function on the stack once.
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = label(byId.get(cur));
    if (seen.has(k)) continue;
    seen.add(k);
    total.set(k, (total.get(k) ?? 0) + count);
  }
}
const pct = (x) => ((x / busy) * 100).toFixed(1).padStart(5) + '%';
console.log(`${file}: ${all} samples, ${busy} busy (${((busy / all) * 100).toFixed(0)}%), GC ${pct(gc)} of busy`);
console.log(' self   total  function');
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
for (const [k, c] of rows) console.log(`${pct(c)} ${pct(total.get(k) ?? c)}  ${k}`);
