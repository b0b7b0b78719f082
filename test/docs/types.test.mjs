// The docs' examples must type-check against the published declarations, resolved through a
// node_modules/stelar-time-real symlink to this checkout, as a user's project resolves them:
// - the ```ts examples of the reference docs, as TypeScript (every `@ts-expect-error` must fire);
// - every ```js example of README.md and docs/*.md (the ones examples.test.mjs runs), as the
//   JavaScript they are, with checkJs and strict (noImplicitAny off: plain JavaScript cannot
//   annotate its own variables, and those are the user's types, not ours);
// - the client patterns of the docs written as strict TypeScript (fixtures/*.ts);
// - a browser application (browser/*.ts) with lib DOM, no Node types at all and the `browser`
//   condition, so the browser declarations may not reference Buffer, node:http and the like.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractExamples } from './extract.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const DOCS = ['README.md', 'docs/API.md', 'docs/MIGRATING-FROM-SOCKET-IO.md', 'docs/GETTING-STARTED.md'];
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/**
 * Errors in the ```js examples that are the example's JavaScript, not our declarations. Each entry
 * must still match an error (a stale one fails the test), and matches only a line containing `text`.
 */
const TOLERATED = [
  { file: 'README.md', code: 'TS2345', text: 'server.getTcpPort()', why: 'getTcpPort() is undefined before start() or without TCP' },
  { file: 'docs/API.md', code: 'TS2353', text: 'updateConfig({ port: 4000 })', why: 'the example shows that a wrong key throws' },
  { file: 'docs/API.md', code: 'TS2339', text: 'http.address()', why: "node:http's address() may be a string or null" },
  { file: 'docs/API.md', code: 'TS2531', text: 'wss.address()', why: 'address() is null before listening' },
  { file: 'docs/API.md', code: 'TS2339', text: 'wss.address()', why: 'address() is a string for a pipe' },
  { file: 'docs/API.md', code: 'TS2769', text: 'http.listen(0, resolve)', why: "node:http's listen() callback takes no argument" },
  { file: 'docs/MIGRATING-FROM-SOCKET-IO.md', code: 'TS2769', text: 'http.listen(0, resolve)', why: "node:http's listen() callback takes no argument" },
  { file: 'docs/MIGRATING-FROM-SOCKET-IO.md', code: 'TS2531', text: 'http.address()', why: "node:http's address() may be null" },
  { file: 'docs/MIGRATING-FROM-SOCKET-IO.md', code: 'TS2339', text: 'http.address()', why: "node:http's address() may be a string" },
];

function docFiles() {
  const files = ['README.md'];
  for (const name of readdirSync(join(root, 'docs')).sort()) if (name.endsWith('.md')) files.push(`docs/${name}`);
  return files;
}

function tsBlocks() {
  const out = [];
  for (const doc of DOCS) {
    const path = join(root, doc);
    if (!existsSync(path)) continue;
    const lines = readFileSync(path, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
      let end = i + 1;
      while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
      out.push({ doc, line: i + 1, code: lines.slice(i + 1, end).join('\n') });
      i = end;
    }
  }
  return out;
}

/** A fresh project dir under test-artifacts/docs/ whose node_modules has the package (and Node's types when `nodeTypes`). */
function project(name, nodeTypes = true) {
  const dir = join(root, 'test-artifacts', 'docs', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(root, join(dir, 'node_modules', 'stelar-time-real'), 'dir');
  // Node's own types come from this checkout's dev dependencies.
  if (nodeTypes) symlinkSync(join(root, 'node_modules', '@types'), join(dir, 'node_modules', '@types'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  return dir;
}

/** Runs tsc on `dir` with `compilerOptions`; returns its diagnostics as `{ file, line, code, message }`. */
function typecheck(dir, files, compilerOptions) {
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, ...compilerOptions }, files }));
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'], { cwd: dir, encoding: 'utf8' });
  const output = `${r.stdout}${r.stderr}`;
  const errors = [];
  for (const m of output.matchAll(/^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/gm)) errors.push({ file: m[1], line: Number(m[2]), code: m[3], message: m[4] });
  return { status: r.status, output, errors };
}

const NODE = { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', types: ['node'], skipLibCheck: false };
// What a bundler-based browser project uses: no @types/node, the DOM, the `browser` condition.
// skipLibCheck stays off, or an unresolved `Buffer` in our .d.ts files would pass silently as any.
const BROWSER = {
  module: 'ESNext',
  moduleResolution: 'bundler',
  customConditions: ['browser'],
  target: 'ES2022',
  lib: ['ES2022', 'DOM'],
  types: [],
  skipLibCheck: false,
};

test('the TypeScript examples type-check', { timeout: 60_000 }, () => {
  const blocks = tsBlocks();
  assert.ok(blocks.length > 0, 'no ```ts example found');
  const dir = project('types');
  const files = blocks.map((b) => {
    const name = `${b.doc.replace(/[/.]/g, '_')}-L${b.line}.ts`;
    // Each block is its own module (export {}), so names do not clash between examples.
    writeFileSync(join(dir, name), `// ${b.doc} line ${b.line}\n${b.code}\nexport {};\n`);
    return name;
  });
  const r = typecheck(dir, files, NODE);
  assert.equal(r.status, 0, `tsc found problems in the docs' TypeScript examples:\n${r.output}`);
});

test('the JavaScript examples type-check (checkJs, strict)', { timeout: 60_000 }, () => {
  const dir = project('js-types');
  const where = new Map();
  const files = [];
  const thirdParty = new Set();
  for (const doc of docFiles()) {
    for (const ex of extractExamples(readFileSync(join(root, doc), 'utf8'))) {
      const name = `${doc.replace(/[/.]/g, '_')}-L${ex.line}.mjs`;
      writeFileSync(join(dir, name), ex.code);
      where.set(name, { doc, line: ex.line, lines: ex.code.split('\n') });
      files.push(name);
      for (const m of ex.code.matchAll(/from\s+'([^'.][^']*)'/g)) if (!/^(node:|stelar-time-real)/.test(m[1])) thirdParty.add(m[1]);
    }
  }
  assert.ok(files.length > 0, 'no ```js example found');
  // Other libraries (socket.io, redis...) are the examples' business, not ours: typed as any.
  writeFileSync(join(dir, 'third-party.d.ts'), [...thirdParty].map((m) => `declare module '${m}';\n`).join(''));
  const r = typecheck(dir, [...files, 'third-party.d.ts'], { ...NODE, allowJs: true, checkJs: true, noImplicitAny: false });
  const used = new Set();
  const problems = [];
  for (const e of r.errors) {
    const at = where.get(e.file);
    const source = at?.lines[e.line - 1] ?? '';
    const excuse = at && TOLERATED.find((t) => t.file === at.doc && t.code === e.code && source.includes(t.text));
    if (excuse) used.add(excuse);
    else problems.push(`${at ? `${at.doc}:${at.line + e.line}` : e.file}: ${e.code} ${e.message}\n    ${source.trim()}`);
  }
  if (r.status !== 0 && r.errors.length === 0) problems.push(r.output);
  assert.deepEqual(problems, [], `tsc found problems in the docs' JavaScript examples:\n${problems.join('\n')}`);
  const stale = TOLERATED.filter((t) => !used.has(t)).map((t) => `${t.file} ${t.code} ${t.text}`);
  assert.deepEqual(stale, [], 'tolerated errors that no longer occur: remove them from TOLERATED');
});

test('the client patterns of the docs type-check as strict TypeScript', { timeout: 60_000 }, () => {
  const dir = project('ts-patterns');
  const files = readdirSync(join(here, 'fixtures')).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length > 0);
  for (const f of files) copyFileSync(join(here, 'fixtures', f), join(dir, f));
  const r = typecheck(dir, files, NODE);
  assert.equal(r.status, 0, `tsc:\n${r.output}`);
});

test('a browser application type-checks without Node types', { timeout: 60_000 }, () => {
  const dir = project('browser-types', false);
  const files = readdirSync(join(here, 'browser')).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length > 0);
  for (const f of files) copyFileSync(join(here, 'browser', f), join(dir, f));
  const r = typecheck(dir, files, BROWSER);
  assert.equal(r.status, 0, `tsc:\n${r.output}`);
  // The declarations it used are the browser build's, and none of them is Node's.
  const listed = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--listFilesOnly'], { encoding: 'utf8' }).stdout;
  assert.match(listed, /dist[/\\]browser[/\\]stelar-client\.d\.mts/);
  assert.doesNotMatch(listed, /@types[/\\]node|dist[/\\](index|server[/\\]\w+)\.d\.ts/);
});

// The checker must catch a wrong example: an error in a fixture fails it, and tolerated
// errors are matched by their line only.
test('the type-check reports an error and its place', { timeout: 60_000 }, () => {
  const dir = project('types-self', false);
  writeFileSync(join(dir, 'wrong.ts'), "import { StelarClient } from 'stelar-time-real/browser';\nnew StelarClient('/').connect(42);\n");
  const r = typecheck(dir, ['wrong.ts'], BROWSER);
  assert.notEqual(r.status, 0);
  assert.deepEqual(
    r.errors.map(({ line, code }) => ({ line, code })),
    [{ line: 2, code: 'TS2345' }],
  );
});
