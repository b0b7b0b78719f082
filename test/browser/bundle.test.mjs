// The browser bundles exist and carry no Node built-ins (runs without a browser).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

for (const name of ['stelar-client.mjs', 'stelar-client.global.js']) {
  test(`${name}: no Node imports, exposes StelarClient`, () => {
    const code = readFileSync(fileURLToPath(new URL(`../../dist/browser/${name}`, import.meta.url)), 'utf8');
    assert.doesNotMatch(code, /\bfrom\s*["']node:|require\(["'](node:)?(fs|net|tls|http|https|crypto|events)["']\)/);
    assert.doesNotMatch(code, /\bprocess\.(nextTick|env)|\bBuffer\.(from|alloc|isBuffer)/);
    assert.match(code, /var StelarClient = class extends/);
    if (name.endsWith('.global.js')) assert.match(code, /^var Stelar = /m);
    else assert.match(code, /export\s*{[^}]*StelarClient/);
  });
}
