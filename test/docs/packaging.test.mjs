// What the docs say ships in the npm package must be in it, and what is only for working on the
// repository must not: the file list comes from `npm pack --dry-run --json` (scripts ignored,
// so the test neither rebuilds nor deletes dist/ under the other suites), after the build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
/** The README and every doc under docs/ (the docs ship, so what they promise must too). */
const DOCS = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The paths `npm pack` would put in the tarball, relative to the package root. */
function packList() {
  // Under `npm test`, npm_execpath is the npm that runs us; elsewhere, npm from the PATH.
  const execPath = process.env.npm_execpath;
  const [cmd, prefix] = execPath?.endsWith('.js') ? [process.execPath, [execPath]] : ['npm', []];
  const res = spawnSync(cmd, [...prefix, 'pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(res.status, 0, `npm pack --dry-run failed: ${res.error?.message ?? res.stderr}`);
  const [entry] = JSON.parse(res.stdout);
  return new Set(entry.files.map((f) => f.path));
}

/** Every path a doc names as being in the installed package: `node_modules/stelar-time-real/<path>`. */
export function installedPathsIn(markdown) {
  return [...markdown.matchAll(/node_modules\/stelar-time-real\/([\w./-]+)/g)].map((m) => m[1].replace(/[.)]+$/, ''));
}

/** Every built file a doc names (`dist/...js`, `.mjs`, `.d.ts`). */
export function distPathsIn(markdown) {
  return [...markdown.matchAll(/\b(dist\/[\w./-]+?\.(?:d\.ts|mjs|js))\b/g)].map((m) => m[1]);
}

/** The files the `exports`, `main`, `types` and `bin` fields point at. */
function entryPoints() {
  const out = new Set([pkg.main, pkg.types, ...Object.values(pkg.bin ?? {})]);
  const walk = (value) => {
    if (typeof value === 'string') out.add(value);
    else if (value && typeof value === 'object') for (const v of Object.values(value)) walk(v);
  };
  walk(pkg.exports);
  return [...out].map((p) => p.replace(/^\.\//, ''));
}

test('helpers: paths named by the docs are found', () => {
  assert.deepEqual(installedPathsIn('run `node node_modules/stelar-time-real/scripts/echo-server.mjs --port 1`.'), ['scripts/echo-server.mjs']);
  assert.deepEqual(distPathsIn('load `dist/browser/stelar-client.global.js` or dist/index.d.ts.'), ['dist/browser/stelar-client.global.js', 'dist/index.d.ts']);
});

test('the package ships what the docs and package.json promise, and nothing of the repository tooling', () => {
  assert.ok(existsSync(join(root, 'dist', 'index.js')), 'dist/ is not built: run `npm run build` first');
  const files = packList();

  const promised = new Set(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'scripts/echo-server.mjs', ...entryPoints()]);
  for (const doc of DOCS) {
    promised.add(doc);
    const text = readFileSync(join(root, doc), 'utf8');
    for (const p of installedPathsIn(text)) promised.add(p);
    for (const p of distPathsIn(text)) promised.add(p);
  }
  const missing = [...promised].filter((p) => !files.has(p)).sort();
  assert.deepEqual(missing, [], `promised but not in the package: ${missing.join(', ')}`);

  const tooling = [...files].filter(
    (p) => /^(test|bench|demo|coverage|node_modules|\.ci)\//.test(p) || (p.startsWith('scripts/') && p !== 'scripts/echo-server.mjs'),
  );
  assert.deepEqual(tooling, [], `repository tooling in the package: ${tooling.join(', ')}`);
});

test('README and docs tell an installed user how to run the echo server', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  assert.ok(installedPathsIn(readme).includes('scripts/echo-server.mjs'), 'README names the echo server inside node_modules');
  assert.ok(pkg.files.includes('scripts/echo-server.mjs'), 'package.json files lists the echo server');
});

test('LICENSE is the MIT licence package.json declares, and CHANGELOG covers this version', () => {
  assert.equal(pkg.license, 'MIT');
  const license = readFileSync(join(root, 'LICENSE'), 'utf8');
  assert.match(license, /^MIT License\n/);
  assert.match(license, /Copyright \(c\) 2026 stelar-time-real contributors/);
  const changelog = readFileSync(join(root, 'CHANGELOG.md'), 'utf8');
  assert.match(changelog, /^## Changes from 3\.2$/m);
  assert.ok(changelog.includes(`\n## ${pkg.version}\n`), `CHANGELOG.md has no "## ${pkg.version}" section`);
});
