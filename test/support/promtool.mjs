// Prometheus' own parser and linter (`promtool check metrics`, Debian package prometheus) as
// the judge of our exposition. Under CI=true a missing promtool fails the test that needs it
// (.ci/run installs it); elsewhere that test is skipped, saying why.
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';

const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
export const hasPromtool = found.status === 0;

if (!hasPromtool && process.env.CI === 'true') {
  throw new Error('promtool is missing: CI must install it (apt-get install -y prometheus)');
}

/** Skips the test outside CI when promtool is missing; returns false then. */
export function needPromtool(t) {
  if (hasPromtool) return true;
  t.skip('promtool not installed (apt-get install -y prometheus)');
  return false;
}

/** `promtool check metrics` on `text`: exit 0 and nothing said, or the assertion shows what it said. */
export function assertPromtoolAccepts(text) {
  const res = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  const said = `${res.stdout}${res.stderr}`.trim();
  assert.equal(res.status, 0, `promtool check metrics exited ${res.status}:\n${said}`);
  assert.equal(said, '', `promtool check metrics found problems:\n${said}`);
}

/** `promtool check metrics` on `text`: what it said and its exit status (for tests that expect a refusal). */
export function promtoolCheck(text) {
  const res = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: res.status, output: `${res.stdout}${res.stderr}`.trim() };
}
