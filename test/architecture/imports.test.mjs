// Architecture rules of src/, checked on the import graph read from the TypeScript sources
// (see graph.mjs): no import cycles, and every import goes down the layer table
// (protocol/logger < net < websocket,tcp < wire < contracts < adapter < server,client < index).
// The first half tests the checker itself on small in-memory graphs, so it is proven able to fail.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildGraph,
  checkLayers,
  findCycles,
  formatCycle,
  LAYERS,
  listSourceFiles,
  parseImports,
  readSourceGraph,
  resolveSpecifier,
  stronglyConnected,
  unitOf,
} from './graph.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const srcDir = join(root, 'src');

const specs = (text) => parseImports(text).map((i) => i.specifier);

describe('checker self-test: parseImports', () => {
  test('finds static, type-only, side-effect, re-export and dynamic imports', () => {
    const text = [
      "import a from './a.js';",
      "import type { B } from './b.js';",
      "import { type C, d } from './c.js';",
      "import * as e from './e.js';",
      "import f, { g } from './f.js';",
      "import './side.js';",
      "export * from './h.js';",
      "export * as i from './i.js';",
      "export { j } from './j.js';",
      "export type { K } from './k.js';",
      "const l = await import('./l.js');",
      'import {',
      '  m,',
      '  n,',
      "} from './mn.js';",
      "import x = require('./req.js');",
    ].join('\n');
    const found = parseImports(text);
    assert.deepEqual(
      found.map((i) => i.specifier),
      ['./a.js', './b.js', './c.js', './e.js', './f.js', './side.js', './h.js', './i.js', './j.js', './k.js', './l.js', './mn.js', './req.js'],
    );
    const byspec = Object.fromEntries(found.map((i) => [i.specifier, i]));
    assert.equal(byspec['./b.js'].typeOnly, true);
    assert.equal(byspec['./k.js'].typeOnly, true);
    assert.equal(byspec['./a.js'].typeOnly, false);
    assert.equal(byspec['./c.js'].typeOnly, false);
    assert.equal(byspec['./l.js'].kind, 'dynamic');
    assert.equal(byspec['./mn.js'].line, 12);
  });

  test('ignores imports inside comments, strings, templates and regexes, and non-imports', () => {
    const text = [
      "// import a from './commented.js';",
      "/* export * from './block.js'; */",
      'const s = "import b from \'./string.js\'";',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: source text with a template literal, parsed by the scanner
      "const t = `import c from './template.js' ${\"x\"} import('./tpl2.js')`;",
      "const r = /import d from '.\\/regex.js'/;",
      'const u = import.meta.url;',
      "const o = { import: './key.js' };",
      "obj.import('./method.js');",
      'export const value = 1;',
      'export { value as other };',
      'const dyn = import(someVariable);',
      "import real from './real.js';",
    ].join('\n');
    assert.deepEqual(specs(text), ['./real.js']);
  });

  test('`type` as a default binding name is not a type-only import', () => {
    const [imp] = parseImports("import type from './t.js';");
    assert.equal(imp.specifier, './t.js');
    assert.equal(imp.typeOnly, false);
  });

  test('an import inside a template expression is found', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: source text with a template literal, parsed by the scanner
    assert.deepEqual(specs("const x = `${(await import('./inner.js')).v}`;"), ['./inner.js']);
  });
});

describe('checker self-test: resolution', () => {
  const files = new Set(['a.ts', 'dir/index.ts', 'dir/b.ts', 'types.d.ts']);
  test('./x.js -> x.ts, directory -> index.ts, ../ walks up, missing -> null', () => {
    assert.equal(resolveSpecifier('dir/b.ts', '../a.js', files), 'a.ts');
    assert.equal(resolveSpecifier('a.ts', './dir/index.js', files), 'dir/index.ts');
    assert.equal(resolveSpecifier('a.ts', './dir', files), 'dir/index.ts');
    assert.equal(resolveSpecifier('a.ts', './dir/b', files), 'dir/b.ts');
    assert.equal(resolveSpecifier('a.ts', './types.js', files), 'types.d.ts');
    assert.equal(resolveSpecifier('a.ts', './nope.js', files), null);
  });

  test('node: and bare package imports are external, not edges', () => {
    const g = buildGraph({ 'a.ts': "import { x } from 'node:fs';\nimport y from 'ioredis';\nimport { z } from './b.js';", 'b.ts': '' });
    assert.deepEqual(
      g.edges.get('a.ts').map((e) => e.to),
      ['b.ts'],
    );
    assert.deepEqual(
      g.external.get('a.ts').map((e) => e.specifier),
      ['node:fs', 'ioredis'],
    );
  });
});

describe('checker self-test: cycles', () => {
  test('finds a three-file cycle and reports it as a closed chain', () => {
    const g = buildGraph({
      'a.ts': "import { b } from './b.js';",
      'b.ts': "import { c } from './c.js';",
      'c.ts': "import { a } from './a.js';",
      'd.ts': "import { a } from './a.js';",
    });
    const cycles = findCycles(g);
    assert.deepEqual(cycles, [['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
    assert.equal(formatCycle(cycles[0]), 'a.ts -> b.ts -> c.ts -> a.ts');
  });

  test('a type-only import closes a cycle too', () => {
    const g = buildGraph({
      'a.ts': "import type { B } from './b.js';",
      'b.ts': "export type { A } from './a.js';",
    });
    assert.deepEqual(findCycles(g), [['a.ts', 'b.ts', 'a.ts']]);
  });

  test('a dynamic import closes a cycle too; a self-import is a cycle', () => {
    const g = buildGraph({
      'a.ts': "import { b } from './b.js';",
      'b.ts': "const a = () => import('./a.js');",
      's.ts': "import './s.js';",
    });
    assert.deepEqual(findCycles(g), [
      ['s.ts', 's.ts'],
      ['a.ts', 'b.ts', 'a.ts'],
    ]);
  });

  test('every edge on a cycle appears in some listed cycle (two cycles sharing a file)', () => {
    const g = buildGraph({
      'a.ts': "import './b.js';\nimport './c.js';",
      'b.ts': "import './a.js';",
      'c.ts': "import './a.js';",
    });
    assert.deepEqual(
      stronglyConnected(g).filter((c) => c.length > 1),
      [['a.ts', 'b.ts', 'c.ts']],
    );
    assert.deepEqual(findCycles(g), [
      ['a.ts', 'b.ts', 'a.ts'],
      ['a.ts', 'c.ts', 'a.ts'],
    ]);
  });

  test('a diamond (no back edge) has no cycle', () => {
    const g = buildGraph({
      'a.ts': "import './b.js';\nimport './c.js';",
      'b.ts': "import './d.js';",
      'c.ts': "import './d.js';",
      'd.ts': '',
    });
    assert.deepEqual(findCycles(g), []);
  });
});

describe('checker self-test: layers', () => {
  const kinds = (g) => checkLayers(g).map((v) => `${v.kind} ${v.from}${v.to ? ` -> ${v.to}` : v.specifier ? ` ${v.specifier}` : ''}`);

  test('downward imports and same-unit imports pass', () => {
    const g = buildGraph({
      'protocol/index.ts': "export * from './codes.js';",
      'protocol/codes.ts': '',
      'net/q.ts': "import { x } from '../protocol/index.js';",
      'server/a.ts': "import { b } from './b.js';\nimport '../net/q.js';\nimport '../adapter/m.js';",
      'server/b.ts': '',
      'adapter/m.ts': '',
      'index.ts': "export * from './server/a.js';\nexport * from './protocol/index.js';",
    });
    assert.deepEqual(checkLayers(g), []);
  });

  test('a lower unit importing an upper one is flagged, type-only included', () => {
    const g = buildGraph({
      'adapter/a.ts': "import type { S } from '../server/s.js';",
      'server/s.ts': '',
    });
    const v = checkLayers(g);
    assert.deepEqual(kinds(g), ['upward adapter/a.ts -> server/s.ts']);
    assert.match(v[0].message, /adapter\/a\.ts:1 imports \(type-only\) server\/s\.ts/);
  });

  test('units of the same rank may not import each other', () => {
    const g = buildGraph({
      'tcp/c.ts': "import { x } from '../websocket/w.js';",
      'websocket/w.ts': '',
      'client/c.ts': "import { S } from '../server/s.js';",
      'server/s.ts': '',
    });
    assert.deepEqual(kinds(g), ['upward client/c.ts -> server/s.ts', 'upward tcp/c.ts -> websocket/w.ts']);
  });

  test('client/ may not import adapter/, contracts/ or wire/ although they rank lower', () => {
    const g = buildGraph({
      'client/c.ts': "import '../adapter/a.js';\nimport '../contracts/c.js';\nimport '../wire/w.js';\nimport '../tcp/t.js';",
      'adapter/a.ts': '',
      'contracts/c.ts': '',
      'wire/w.ts': '',
      'tcp/t.ts': '',
    });
    assert.deepEqual(kinds(g), ['banned client/c.ts -> adapter/a.ts', 'banned client/c.ts -> contracts/c.ts', 'banned client/c.ts -> wire/w.ts']);
  });

  test('protocol/ may import nothing else from src, nor a Node built-in', () => {
    const g = buildGraph({
      'protocol/p.ts': "import '../logger.js';\nimport { Buffer } from 'node:buffer';\nimport { createHash } from 'crypto';\nimport x from 'some-package';",
      'logger.ts': '',
    });
    assert.deepEqual(kinds(g), ['upward protocol/p.ts -> logger.ts', 'node-builtin protocol/p.ts node:buffer', 'node-builtin protocol/p.ts crypto']);
  });

  test('a file or folder missing from the table is an unknown unit', () => {
    const g = buildGraph({ 'extra/x.ts': '', 'util.ts': '', 'index.ts': "import './extra/x.js';" });
    const v = checkLayers(g);
    assert.deepEqual(kinds(g), ['unknown-unit extra/', 'unknown-unit util.ts']);
    assert.match(v[0].message, /unknown unit: extra\/ \(extra\/x\.ts\): add it to the layer table/);
  });

  test('a relative import that names no file is reported', () => {
    const g = buildGraph({ 'server/a.ts': "import './gone.js';" });
    assert.deepEqual(kinds(g), ['unresolved server/a.ts ./gone.js']);
  });

  test('unitOf: folder units end with /, top-level files are their own unit', () => {
    assert.equal(unitOf('adapter/redis/driver.ts'), 'adapter/');
    assert.equal(unitOf('logger.ts'), 'logger.ts');
    assert.equal(LAYERS.units['adapter/'], 5);
  });
});

// ---------------------------------------------------------------------------------------
// The real tree.

const graph = readSourceGraph(srcDir);
const lines = (items) => items.map((s) => `  ${s}`).join('\n');

describe('src/ import graph', () => {
  test('the reader sees the whole tree (guards against a reader that finds nothing)', () => {
    const files = listSourceFiles(srcDir);
    assert.ok(files.length >= 50, `only ${files.length} source files found under src/`);
    assert.ok(graph.edges.get('index.ts')?.length > 0, 'src/index.ts has no import edges');
    const edgeCount = [...graph.edges.values()].reduce((n, l) => n + l.length, 0);
    assert.ok(edgeCount >= files.length, `only ${edgeCount} import edges among ${files.length} files`);
  });

  test('the scanner finds the same specifiers as TypeScript on every file of src/', async (t) => {
    let ts;
    try {
      ts = createRequire(import.meta.url)('typescript');
    } catch {
      t.skip('typescript is not installed');
      return;
    }
    const mismatches = [];
    for (const file of graph.files) {
      const text = readFileSync(join(srcDir, file), 'utf8');
      const ours = parseImports(text)
        .map((i) => i.specifier)
        .sort();
      const theirs = ts
        .preProcessFile(text, true, true)
        .importedFiles.map((i) => i.fileName)
        .sort();
      if (ours.join('\n') !== theirs.join('\n')) mismatches.push(`src/${file}: ours [${ours}] vs typescript [${theirs}]`);
    }
    assert.deepEqual(mismatches, [], `import scanner disagrees with TypeScript:\n${lines(mismatches)}`);
  });

  test('no import cycles in src/', () => {
    const cycles = findCycles(graph).map((c) => formatCycle(c, 'src/'));
    assert.equal(cycles.length, 0, `${cycles.length} import cycle(s) in src/ (type-only imports count):\n${lines(cycles)}`);
  });

  test('every file of src/ belongs to a unit of the layer table', () => {
    const unknown = checkLayers(graph, LAYERS, 'src/')
      .filter((v) => v.kind === 'unknown-unit')
      .map((v) => v.message);
    assert.equal(unknown.length, 0, `${unknown.length} unknown unit(s):\n${lines(unknown)}`);
  });

  test('imports go only down the layers (protocol,logger < net < websocket,tcp < wire < contracts < adapter < server,client < index)', () => {
    const bad = checkLayers(graph, LAYERS, 'src/')
      .filter((v) => v.kind === 'upward' || v.kind === 'banned' || v.kind === 'unresolved')
      .map((v) => v.message);
    assert.equal(bad.length, 0, `${bad.length} layer violation(s):\n${lines(bad)}`);
  });

  test('protocol/ imports no Node built-in module (it is bundled for browsers)', () => {
    const bad = checkLayers(graph, LAYERS, 'src/')
      .filter((v) => v.kind === 'node-builtin')
      .map((v) => v.message);
    assert.equal(bad.length, 0, `${bad.length} Node import(s) in protocol/:\n${lines(bad)}`);
  });
});
