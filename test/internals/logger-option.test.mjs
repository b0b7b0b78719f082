// The logger option (issue 13): an unknown level name is refused at construction, for the
// server and the client alike (and at runtime updates), with the valid levels listed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StelarServer, StelarClient, Logger, createLogger } from '../../dist/index.js';

const LISTS_LEVELS = /'debug', 'info', 'warn', 'error', 'silent', false/;

test("server: logger 'verbose' throws at construction, naming the option and listing the levels", () => {
  assert.throws(
    () => new StelarServer({ port: 0, logger: 'verbose' }),
    (err) => err instanceof RangeError && /logger/.test(err.message) && LISTS_LEVELS.test(err.message) && /'verbose'/.test(err.message),
  );
  // Nothing else slips through either: a number, true, null, an object without the methods.
  for (const bad of [3, true, null, { info() {} }]) assert.throws(() => new StelarServer({ port: 0, logger: bad }), TypeError, String(bad));
  // updateConfig is held to the same rule, and leaves the logger in force unchanged.
  const server = new StelarServer({ port: 0, logger: 'silent' });
  assert.throws(() => server.updateConfig({ logger: 'trace' }), RangeError);
});

test("client: logger 'verbose' throws at construction and in updateOptions, listing the levels", () => {
  assert.throws(
    () => new StelarClient(1, { logger: 'verbose' }),
    (err) => err instanceof RangeError && /logger/.test(err.message) && LISTS_LEVELS.test(err.message),
  );
  assert.throws(() => new StelarClient(1, { logger: 42 }), TypeError);
  assert.throws(() => new StelarClient(1, { logger: { warn() {} } }), /lacks debug, info, error methods/);
  const client = new StelarClient(1, { logger: 'silent' });
  assert.throws(() => client.updateOptions({ logger: 'loud' }), RangeError);
  assert.equal(client.getOptions().logger, 'silent');
});

test('the valid values are still accepted: every level, false, undefined and a logger object', () => {
  const custom = { debug() {}, info() {}, warn() {}, error() {} };
  for (const logger of ['debug', 'info', 'warn', 'error', 'silent', false, undefined, custom]) {
    new StelarServer({ port: 0, logger });
    new StelarClient(1, { logger });
  }
  assert.throws(() => new Logger('verbose'), RangeError);
  assert.throws(() => createLogger('verbose', 'info'), RangeError);
  assert.equal(new Logger('warn').level, 'warn');
});
