// Relative links in the README and the reference docs must lead somewhere: the file exists,
// and a #fragment names a heading of that file (GitHub's anchor rules).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHECKED = ['README.md', 'docs/API.md', 'docs/MIGRATING-FROM-SOCKET-IO.md', 'docs/GETTING-STARTED.md'];

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function withoutCode(markdown) {
  // Links inside fenced blocks are code, not links.
  return markdown.replace(/^(```|~~~)[\s\S]*?^\1/gm, '');
}

function anchors(file) {
  const seen = new Map();
  const out = new Set();
  for (const m of withoutCode(readFileSync(file, 'utf8')).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

test('slugs follow GitHub', () => {
  assert.equal(slug('The context (`ctx`)'), 'the-context-ctx');
  assert.equal(slug('Requests and answers (ACK)'), 'requests-and-answers-ack');
  assert.equal(slug('1. Opening'), '1-opening');
});

for (const doc of CHECKED) {
  const path = join(root, doc);
  if (!existsSync(path)) continue;
  test(`links in ${doc} resolve`, () => {
    const broken = [];
    const text = withoutCode(readFileSync(path, 'utf8'));
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const href = m[1];
      if (/^[a-z]+:/i.test(href)) continue; // http(s), mailto...
      const [file, fragment] = href.split('#');
      const target = file ? normalize(join(dirname(path), file)) : path;
      if (!existsSync(target)) {
        broken.push(`${href} (no such file)`);
        continue;
      }
      if (fragment && target.endsWith('.md') && !anchors(target).has(fragment)) broken.push(`${href} (no such heading)`);
    }
    assert.deepEqual(broken, []);
  });
}
