// Every JavaScript example in README.md and docs/*.md runs here, so no example can rot.
//
// Each ```js / ```javascript block is written to its own .mjs file under
// test-artifacts/docs/<run>/ (kept for inspection), next to a node_modules/stelar-time-real
// symlink to this checkout, so `import ... from 'stelar-time-real'` (and its subpaths)
// resolves to the freshly built dist/ exactly as it would for a user. Each file runs in its
// own Node process with a time limit. An example fails when it throws, exits non-zero,
// hangs, or prints something other than its `<!-- expect: ... -->` lines.
//
// Conventions for doc writers (see test/docs/extract.mjs for the comment syntax):
// - an example is a complete program: it starts and stops its own server (port 0), checks
//   what it shows with `assert` or an expect comment, and ends by itself;
// - `<!-- example: skip (reason) -->` above a fence exempts it (a real domain, a Redis URL...).
//   At most MAX_SKIPPED examples may be skipped in all the docs together;
// - the library's own log lines ("[stelar] ...", "[stelar-client] ...") are ignored when
//   stdout is compared, since they carry ports and timings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractExamples } from './extract.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The most examples the docs may skip, all files together. Raise it only with a reason. */
const MAX_SKIPPED = 6;
/** Per-example time limit unless the example sets `<!-- example: timeout N -->`. */
const DEFAULT_TIMEOUT_MS = 15_000;
/** Processes at once: examples mostly wait on sockets, but the machine may have 2 cores. */
const CONCURRENCY = 4;
/** Docs this suite's author owns: their examples must also check something (assert or expect). */
const STRICT_DOCS = new Set(['README.md', 'docs/API.md', 'docs/MIGRATING-FROM-SOCKET-IO.md', 'docs/GETTING-STARTED.md']);

function docFiles() {
  const files = ['README.md'];
  const docs = join(root, 'docs');
  if (existsSync(docs)) {
    for (const name of readdirSync(docs).sort()) if (name.endsWith('.md')) files.push(`docs/${name}`);
  }
  return files.filter((f) => existsSync(join(root, f)));
}

function collect() {
  const examples = [];
  for (const file of docFiles()) {
    for (const ex of extractExamples(readFileSync(join(root, file), 'utf8'))) examples.push({ file, ...ex });
  }
  return examples;
}

const LOG_LINE = /^\[stelar(-client)?\]/;

/** stdout lines as compared: trimmed, without blank lines and the library's own log lines. */
export function comparableLines(stdout) {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !LOG_LINE.test(l));
}

function prepareRunDir() {
  const dir = join(root, 'test-artifacts', 'docs', 'examples');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  // The package as a user sees it: its package.json "exports" decide what each import gets.
  symlinkSync(root, join(dir, 'node_modules', 'stelar-time-real'), 'dir');
  return dir;
}

function runFile(file, cwd, timeoutMs) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [file], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, ms: Date.now() - started });
    });
  });
}

/** Wraps async functions so that at most `limit` of them run at once (the rest wait in order). */
function limiter(limit) {
  let active = 0;
  const waiting = [];
  const release = () => {
    active--;
    waiting.shift()?.();
  };
  return async (fn) => {
    if (active >= limit) await new Promise((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      release();
    }
  };
}

const examples = collect();
const runnable = examples.filter((e) => !e.skip);
const skipped = examples.filter((e) => e.skip);

test('the docs have examples, and few are skipped', () => {
  assert.ok(runnable.length > 0, 'no runnable ```js example found in README.md or docs/');
  const list = skipped.map((e) => `  ${e.file}:${e.line} (${e.skip})`).join('\n');
  assert.ok(skipped.length <= MAX_SKIPPED, `${skipped.length} examples are skipped, at most ${MAX_SKIPPED} may be:\n${list}`);
  if (skipped.length) console.log(`skipped examples:\n${list}`);
});

test('examples in the docs of this suite check what they show', () => {
  const unchecked = runnable.filter((e) => STRICT_DOCS.has(e.file) && !e.expect && !/\bassert\b/.test(e.code)).map((e) => `${e.file}:${e.line}`);
  assert.deepEqual(unchecked, [], 'each example needs an assert or an <!-- expect: --> comment');
});

test('every example runs and ends by itself', { timeout: 120_000 }, async (t) => {
  const dir = prepareRunDir();
  const jobs = runnable.map((ex) => () => {
    const name = `${ex.file.replace(/[/.]/g, '_')}-L${ex.line}.mjs`;
    const path = join(dir, name);
    writeFileSync(path, `// ${ex.file} line ${ex.line}\n${ex.code}`);
    return runFile(path, dir, ex.timeout ?? DEFAULT_TIMEOUT_MS).then((r) => ({ ...r, path }));
  });
  const limit = limiter(CONCURRENCY);
  const results = jobs.map((job) => limit(job));
  await Promise.all(
    runnable.map((ex, i) =>
      t.test(`${ex.file}:${ex.line}`, async () => {
        const r = await results[i];
        const where = `${ex.file}:${ex.line} (${relative(root, r.path)})`;
        const output = `\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
        assert.ok(!r.timedOut, `${where} did not end within ${ex.timeout ?? DEFAULT_TIMEOUT_MS} ms${output}`);
        assert.equal(r.code, 0, `${where} exited with ${r.code ?? r.signal}${output}`);
        if (ex.expect) assert.deepEqual(comparableLines(r.stdout), ex.expect, `${where}: stdout differs from its expect comment${output}`);
      }),
    ),
  );
});

// The runner itself must catch the two quiet failures: a hang and a wrong exit code.
test('the runner reports a hang and a failure', async () => {
  const dir = join(root, 'test-artifacts', 'docs', `self-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'hang.mjs'), 'setInterval(() => {}, 1000);\n');
  writeFileSync(join(dir, 'throw.mjs'), "console.log('before'); throw new Error('boom');\n");
  const [hang, thrown] = await Promise.all([runFile(join(dir, 'hang.mjs'), dir, 500), runFile(join(dir, 'throw.mjs'), dir, 10_000)]);
  assert.equal(hang.timedOut, true);
  assert.equal(thrown.timedOut, false);
  assert.notEqual(thrown.code, 0);
  assert.deepEqual(comparableLines(thrown.stdout), ['before']);
  rmSync(dir, { recursive: true, force: true });
});

// A sanity check of the extractor on a known input, so a parsing slip cannot silently
// turn every example into "nothing to run".
test('the extractor reads fences and their comments', () => {
  const md = [
    '# T',
    '<!-- example: skip (needs a real domain) -->',
    '```js',
    'a()',
    '```',
    '',
    '<!-- expect:',
    'one',
    'two',
    '-->',
    '',
    '```javascript',
    'b()',
    '```',
    '```bash',
    'npm test',
    '```',
    '<!-- example: timeout 30000 -->',
    '```js',
    'c()',
    '```',
  ].join('\n');
  const found = extractExamples(md);
  assert.deepEqual(
    found.map(({ line, code, skip, expect, timeout }) => ({ line, code, skip, expect, timeout })),
    [
      { line: 3, code: 'a()\n', skip: 'needs a real domain', expect: null, timeout: null },
      { line: 12, code: 'b()\n', skip: null, expect: ['one', 'two'], timeout: null },
      { line: 19, code: 'c()\n', skip: null, expect: null, timeout: 30000 },
    ],
  );
  assert.deepEqual(comparableLines('[stelar] listening: ws on 1234\n  hi \n\n[stelar-client] x\nbye\n'), ['hi', 'bye']);
});
