// Compiles the fixtures (fixtures/typed-events.ts) against the built declarations, with the same
// tsconfig.test.json that `npm run typecheck` uses: typed event maps must accept the right payloads
// and reject the wrong ones (each @ts-expect-error must fire).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const project = fileURLToPath(new URL('../../tsconfig.test.json', import.meta.url));

test('typed events: StelarClient<ServerEvents, ClientEvents> checks names and payloads', { timeout: 120_000 }, () => {
  const tsc = require.resolve('typescript/bin/tsc');
  let output = '';
  try {
    execFileSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' });
  } catch (err) {
    output = `${err.stdout ?? ''}${err.stderr ?? ''}`;
  }
  assert.equal(output, '', `tsc reported:\n${output}`);
});
