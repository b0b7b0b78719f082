// `npm start` with its port taken: one line naming the port and the variable to change, exit 1.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { freePort, spawnDemo } from './demo-helpers.mjs';

const blockers = [];
after(() => Promise.all(blockers.map((b) => new Promise((resolve) => b.close(resolve)))));

async function occupy() {
  const blocker = net.createServer();
  blockers.push(blocker);
  await new Promise((resolve, reject) => blocker.once('error', reject).listen(0, '127.0.0.1', resolve));
  return blocker.address().port;
}

for (const variable of ['PORT', 'TCP_PORT']) {
  test(`${variable} taken: one line that names it, no stack, exit 1`, { timeout: 30_000 }, async () => {
    const taken = await occupy();
    const other = variable === 'PORT' ? 'TCP_PORT' : 'PORT';
    const demo = spawnDemo({ [variable]: String(taken), [other]: String(await freePort()), HISTORY_FILE: '', REDIS_URL: '' });
    const result = await demo.started;
    if (result === 'ready') await demo.stop();
    assert.notEqual(result, 'ready', 'the demo must not start');
    assert.equal(result.code, 1);
    const { stderr } = demo.output();
    const printed = stderr.trim().split('\n');
    assert.equal(printed.length, 1, `one line, got:\n${stderr}`);
    assert.match(printed[0], new RegExp(`port ${taken} is already in use`));
    assert.match(printed[0], new RegExp(`${variable}=`));
  });
}

test('a PORT that is not a number is refused in one line', { timeout: 30_000 }, async () => {
  const demo = spawnDemo({ PORT: 'abc', TCP_PORT: '0', REDIS_URL: '' });
  const result = await demo.started;
  if (result === 'ready') await demo.stop();
  assert.equal(result.code, 1);
  assert.match(demo.output().stderr.trim(), /^stelar demo: PORT=abc is not a port number/);
});
