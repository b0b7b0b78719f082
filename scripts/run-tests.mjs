// Runs every test/**/*.test.mjs with Node's built-in runner.
// Node 20's `node --test` has no glob support, so we collect the files ourselves;
// helpers under test/ that are not *.test.mjs are never run as tests.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filter = process.argv.slice(2);

function collect(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...collect(full));
    else if (entry.name.endsWith('.test.mjs')) out.push(full);
  }
  return out;
}

let files = collect(join(root, 'test')).sort();
if (filter.length) files = files.filter((f) => filter.some((p) => relative(root, f).includes(p)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit', cwd: root });
process.exit(res.status ?? 1);
