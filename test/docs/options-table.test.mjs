// The options tables of docs/API.md must agree with the declaration tables the code is built
// from (src/server/option-table.ts, src/client/option-table.ts, read from dist/): the same
// option names in both directions, the same default, and the same runtime-changeable flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_OPTIONS } from '../../dist/server/option-table.js';
import { CLIENT_OPTIONS } from '../../dist/client/option-table.js';
import { DEFAULTS } from '../../dist/server/options.js';
import { CLIENT_DEFAULTS } from '../../dist/client/options.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const API = readFileSync(join(root, 'docs', 'API.md'), 'utf8');

/** Splits a markdown table row on `|`, keeping escaped `\|` inside cells. */
function cells(line) {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

/** The first table after `heading`, as { option name -> { Default, Runtime, ... } }. */
export function docTable(markdown, heading) {
  const lines = markdown.split('\n');
  let i = lines.findIndex((l) => l.trim() === heading);
  assert.ok(i >= 0, `docs/API.md has no "${heading}" heading`);
  while (i < lines.length && !lines[i].startsWith('|')) i++;
  const header = cells(lines[i]);
  const rows = new Map();
  for (i += 2; i < lines.length && lines[i].startsWith('|'); i++) {
    const row = cells(lines[i]);
    const name = /^`([^`]+)`$/.exec(row[0])?.[1];
    assert.ok(name, `${heading}: first cell is not an option name: ${lines[i]}`);
    assert.ok(!rows.has(name), `${heading}: ${name} is listed twice`);
    rows.set(name, Object.fromEntries(header.map((h, j) => [h, row[j] ?? ''])));
  }
  return rows;
}

/** How the docs write a default value: `3000`, `'/'`, `true`, `{ maxPoints: 100, windowMs: 1000 }`, none. */
export function renderDefault(value) {
  if (value === undefined) return 'none';
  if (value !== null && typeof value === 'object') {
    const fields = Object.entries(value).map(([k, v]) => `${k}: ${renderDefault(v).replace(/^`|`$/g, '')}`);
    return fields.length ? `\`{ ${fields.join(', ')} }\`` : '`{}`';
  }
  if (typeof value === 'string') return `\`'${value}'\``;
  return `\`${String(value)}\``;
}

/** The default as the docs must show it: the declared text, or the rendered value (maybe followed by a remark). */
function expectedDefault(spec) {
  return spec.defaultText ?? renderDefault(spec.default);
}

/** Every disagreement between a declaration table and a docs table, as readable lines. */
export function compare(declared, documented, label) {
  const problems = [];
  for (const name of Object.keys(declared)) if (!documented.has(name)) problems.push(`${label}: ${name} is declared but not in the docs table`);
  for (const name of documented.keys()) if (!Object.hasOwn(declared, name)) problems.push(`${label}: ${name} is in the docs table but not declared`);
  for (const [name, row] of documented) {
    const spec = declared[name];
    if (!spec) continue;
    const want = expectedDefault(spec);
    const cell = row.Default ?? '';
    if (cell !== want && !cell.startsWith(`${want} `) && !cell.startsWith(`${want},`)) {
      problems.push(`${label}: ${name} default is documented as ${cell}, declared ${want}`);
    }
    const runtime = /^yes\b/.test(row.Runtime ?? '') ? true : /^no\b/.test(row.Runtime ?? '') ? false : undefined;
    if (runtime !== spec.runtime) {
      problems.push(`${label}: ${name} runtime is documented as "${row.Runtime ?? '(no Runtime column)'}", declared ${spec.runtime ? 'yes' : 'no'}`);
    }
  }
  return problems;
}

test('docs/API.md server options table matches the declarations (name, default, runtime)', () => {
  assert.deepEqual(compare(SERVER_OPTIONS, docTable(API, '### Server options'), 'server'), []);
});

test('docs/API.md client options table matches the declarations (name, default, runtime)', () => {
  assert.deepEqual(compare(CLIENT_OPTIONS, docTable(API, '### Client options'), 'client'), []);
});

test('the runtime configuration prose names exactly the fixed server options', () => {
  const section = API.slice(API.indexOf('### Runtime configuration'));
  const paragraph = section.slice(0, section.indexOf('\n\n', section.indexOf('updateConfig(patch)')));
  const listed = /the fixed ones \(([^)]*)\)/.exec(paragraph.replace(/\s+/g, ' '))?.[1];
  assert.ok(listed, 'the Runtime configuration section lists the fixed options in "the fixed ones (...)"');
  const named = [...listed.matchAll(/`([^`]+)`/g)].map((m) => m[1]).sort();
  const fixed = Object.keys(SERVER_OPTIONS)
    .filter((k) => !SERVER_OPTIONS[k].runtime)
    .sort();
  assert.deepEqual(named, fixed);
});

test('the exported defaults are the declared ones', () => {
  for (const [name, spec] of Object.entries(SERVER_OPTIONS)) {
    if ('default' in spec) assert.equal(DEFAULTS[spec.defaultsKey ?? name], spec.default, name);
  }
  for (const [name, spec] of Object.entries(CLIENT_OPTIONS)) assert.equal(CLIENT_DEFAULTS[name], spec.default, name);
});

test('the comparison catches a wrong name, default or runtime flag, in either direction', () => {
  const server = docTable(API, '### Server options');
  const broken = new Map(server);
  broken.set('maxRooms', { ...server.get('maxRooms'), Default: '`9999`' });
  broken.set('port', { ...server.get('port'), Runtime: 'yes' });
  broken.delete('hooks');
  broken.set('madeUp', { Default: 'none', Runtime: 'no' });
  const problems = compare(SERVER_OPTIONS, broken, 'server');
  assert.equal(problems.length, 4, problems.join('\n'));
  assert.match(problems.join('\n'), /hooks is declared but not in the docs/);
  assert.match(problems.join('\n'), /madeUp is in the docs table but not declared/);
  assert.match(problems.join('\n'), /maxRooms default/);
  assert.match(problems.join('\n'), /port runtime/);
});
