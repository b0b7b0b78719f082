// The ```ts examples of the reference docs must type-check against the published .d.ts
// files (resolved through a node_modules/stelar-time-real symlink, as a user's project
// would), and every `@ts-expect-error` in them must mark a real error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DOCS = ['README.md', 'docs/API.md', 'docs/MIGRATING-FROM-SOCKET-IO.md', 'docs/GETTING-STARTED.md'];

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

test('the TypeScript examples type-check', { timeout: 60_000 }, () => {
  const blocks = tsBlocks();
  assert.ok(blocks.length > 0, 'no ```ts example found');
  const dir = join(root, 'test-artifacts', 'docs', 'types');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(root, join(dir, 'node_modules', 'stelar-time-real'), 'dir');
  // Node's own types come from this checkout's dev dependencies.
  symlinkSync(join(root, 'node_modules', '@types'), join(dir, 'node_modules', '@types'), 'dir');
  const files = blocks.map((b) => {
    const name = `${b.doc.replace(/[/.]/g, '_')}-L${b.line}.ts`;
    // Each block is its own module (export {}), so names do not clash between examples.
    writeFileSync(join(dir, name), `// ${b.doc} line ${b.line}\n${b.code}\nexport {};\n`);
    return name;
  });
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', types: ['node'], skipLibCheck: false },
      files,
    }),
  );
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
  assert.equal(r.status, 0, `tsc found problems in the docs' TypeScript examples:\n${r.stdout}${r.stderr}`);
});
