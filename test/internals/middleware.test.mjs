// runMiddleware (src/server/middleware.ts) without a server or a socket: the chain is run on
// a plain object as ctx. Verdict: true = accepted, a StelarError(MIDDLEWARE_REJECTED) = rejected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runMiddleware } from '../../dist/server/middleware.js';
import { CloseCode, ErrorCode, StelarError } from '../../dist/protocol/index.js';

const DEFAULT_MESSAGE = 'connection rejected by middleware';
const alive = () => false;

function assertRejected(verdict, message) {
  assert.ok(verdict instanceof StelarError, `expected a StelarError verdict, got ${verdict}`);
  assert.equal(verdict.code, ErrorCode.MIDDLEWARE_REJECTED);
  assert.equal(verdict.closeCode, CloseCode.REJECTED);
  if (message !== undefined) assert.equal(verdict.message, message);
}

const isPromise = (v) => v !== null && typeof v === 'object' && typeof v.then === 'function';

test('a synchronous chain that calls next() accepts synchronously (true, not a Promise), with the same ctx everywhere', () => {
  const ctx = { id: 'c1' };
  const seen = [];
  const chain = [
    (c, next) => {
      seen.push(['a', c]);
      next();
    },
    (c, next) => {
      seen.push(['b', c]);
      next();
    },
  ];
  const verdict = runMiddleware(chain, ctx, alive);
  assert.equal(verdict, true);
  assert.deepEqual(
    seen.map(([n]) => n),
    ['a', 'b'],
  );
  assert.ok(
    seen.every(([, c]) => c === ctx),
    'a middleware got another ctx',
  );
});

test('an empty chain accepts', () => {
  assert.equal(runMiddleware([], {}, alive), true);
});

test('a middleware that returns without calling next() waits for it; the rest of the chain runs only after it', async () => {
  let later = false;
  let resume;
  const verdict = runMiddleware(
    [
      (_c, next) => {
        resume = next;
      },
      (_c, next) => {
        later = true;
        next();
      },
    ],
    {},
    alive,
    { deadline: Date.now() + 5000 },
  );
  assert.ok(isPromise(verdict), 'a pending next() makes the verdict a Promise');
  await new Promise((r) => setImmediate(r));
  assert.equal(later, false, 'the next middleware ran before next()');
  resume();
  assert.equal(await verdict, true);
  assert.equal(later, true);
});

test('next() called later from a callback accepts (verify(token, () => next()))', async () => {
  const verify = (_token, cb) => setTimeout(cb, 10);
  const verdict = runMiddleware([(_c, next) => verify('t', () => next())], {}, alive, { deadline: Date.now() + 5000 });
  assert.equal(await verdict, true);
});

test('next(err) called later from a callback rejects with its message', async () => {
  const verdict = runMiddleware([(_c, next) => void setTimeout(() => next(new Error('bad later')), 10)], {}, alive, {
    deadline: Date.now() + 5000,
  });
  assertRejected(await verdict, 'bad later');
});

test('next() never called: the handshake is refused (STELAR_ERR_MIDDLEWARE_REJECTED) at the deadline; a later next() changes nothing', async () => {
  let late;
  const started = Date.now();
  const verdict = runMiddleware([(_c, next) => void (late = next)], {}, alive, { deadline: started + 60, connectTimeout: 60 });
  // The deadline timer is unref'd (a pending handshake never holds a process): keep this one up.
  const keepAlive = setTimeout(() => {}, 5000);
  const v = await verdict;
  clearTimeout(keepAlive);
  assert.ok(v instanceof StelarError);
  assert.equal(v.code, ErrorCode.MIDDLEWARE_REJECTED);
  assert.match(v.message, /middleware 1 did not call next\(\) within connectTimeout \(60 ms\)/);
  assert.ok(Date.now() - started >= 50, 'rejected before the deadline');
  late(); // must not throw nor change anything
});

test('next() called twice: the second call is ignored and logged once (warn), not per connection', async () => {
  const warned = [];
  const debugged = [];
  const logger = { warn: (m) => warned.push(m), debug: (m) => debugged.push(m) };
  let entered = 0;
  function twice(_c, next) {
    next();
    next(new Error('ignored'));
  }
  const chain = [
    twice,
    (_c, next) => {
      entered++;
      next();
    },
  ];
  assert.equal(runMiddleware(chain, {}, alive, { logger }), true);
  assert.equal(entered, 1, 'the second next() ran the rest of the chain again');
  assert.equal(runMiddleware(chain, {}, alive, { logger }), true);
  assert.equal(warned.length, 1);
  assert.match(warned[0], /middleware 1 \(twice\) called next\(\) more than once/);
  assert.equal(debugged.length, 1);
  // Late and twice: still accepted once.
  const v = runMiddleware([(_c, next) => void setTimeout(() => (next(), next()), 5)], {}, alive, { deadline: Date.now() + 5000, logger });
  assert.equal(await v, true);
});

test('next(err) rejects with the error message; next(string) with the string; next(null) accepts', () => {
  assertRejected(runMiddleware([(_c, next) => next(new Error('bad token'))], {}, alive), 'bad token');
  assertRejected(runMiddleware([(_c, next) => next('banned')], {}, alive), 'banned');
  assertRejected(runMiddleware([(_c, next) => next(new Error(''))], {}, alive), DEFAULT_MESSAGE);
  assert.equal(runMiddleware([(_c, next) => next(null)], {}, alive), true);
});

test('a throwing middleware rejects with the thrown message, and the chain stops', () => {
  let later = false;
  const verdict = runMiddleware(
    [
      () => {
        throw new Error('boom');
      },
      (_c, next) => {
        later = true;
        next();
      },
    ],
    {},
    alive,
  );
  assertRejected(verdict, 'boom');
  assert.equal(later, false);
  // a throw after next() still rejects
  assertRejected(
    runMiddleware(
      [
        (_c, next) => {
          next();
          throw new Error('after next');
        },
      ],
      {},
      alive,
    ),
    'after next',
  );
});

test('an async middleware that rejects: the verdict Promise resolves (never rejects) to a rejection with the message', async () => {
  const result = runMiddleware(
    [
      async () => {
        throw new Error('async boom');
      },
    ],
    {},
    alive,
  );
  assert.ok(isPromise(result));
  assertRejected(await result, 'async boom');
});

test('an async middleware that settles without calling next() waits for a later next() (returned promise + callback)', async () => {
  let resume;
  const result = runMiddleware(
    [
      async (_c, next) => {
        resume = next;
      },
    ],
    {},
    alive,
    { deadline: Date.now() + 5000 },
  );
  assert.ok(isPromise(result));
  await new Promise((r) => setTimeout(r, 10));
  resume();
  assert.equal(await result, true);
});

test('an async middleware that calls next(err) rejects with its message', async () => {
  const result = runMiddleware(
    [
      async (_c, next) => {
        await null;
        next(new Error('late no'));
      },
    ],
    {},
    alive,
  );
  assertRejected(await result, 'late no');
});

test('a mixed chain runs in order: the sync prefix runs before runMiddleware returns, the rest after each await', async () => {
  const order = [];
  const tick = () => new Promise((r) => setImmediate(r));
  const chain = [
    (_c, next) => {
      order.push(1);
      next();
    },
    async (_c, next) => {
      order.push(2);
      await tick();
      order.push(3);
      next();
    },
    (_c, next) => {
      order.push(4);
      next();
    },
    async (_c, next) => {
      await tick();
      order.push(5);
      next();
    },
  ];
  const result = runMiddleware(chain, {}, alive);
  assert.ok(isPromise(result));
  assert.deepEqual(order, [1, 2], 'the sync prefix and the start of the first async middleware run synchronously');
  assert.equal(await result, true);
  assert.deepEqual(order, [1, 2, 3, 4, 5]);
});

test('a thenable that is not a Promise is awaited too', async () => {
  const thenable = {
    // biome-ignore lint/suspicious/noThenProperty: the point of the test is a non-Promise thenable
    then(resolve) {
      setImmediate(resolve);
    },
  };
  const result = runMiddleware(
    [
      (_c, next) => {
        next();
        return thenable;
      },
    ],
    {},
    alive,
  );
  assert.ok(isPromise(result));
  assert.equal(await result, true);
});

test('use() during a run does not change the running chain (snapshot), but applies to the next run', async () => {
  const chain = [];
  let addedRan = 0;
  const added = (_c, next) => {
    addedRan++;
    next(new Error('added later'));
  };
  chain.push(async (_c, next) => {
    chain.push(added); // what server.use() does while a handshake is in its chain
    await null;
    next();
  });
  assert.equal(await runMiddleware(chain, {}, alive), true);
  assert.equal(addedRan, 0, 'a middleware added during the run ran in that run');
  // removing a middleware during a run does not skip it either
  const order = [];
  const chain2 = [
    (_c, next) => {
      order.push('a');
      chain2.length = 0;
      next();
    },
    (_c, next) => {
      order.push('b');
      next();
    },
  ];
  assert.equal(runMiddleware(chain2, {}, alive), true);
  assert.deepEqual(order, ['a', 'b']);
  // the next run sees the new chain
  assertRejected(await runMiddleware(chain, {}, alive), 'added later');
  assert.equal(addedRan, 1);
});

test('isGone stops the chain: before the first middleware, between two, and after an async one', async () => {
  let gone = true;
  let ran = false;
  const mark = (_c, next) => {
    ran = true;
    next();
  };
  assertRejected(
    runMiddleware([mark], {}, () => gone),
    DEFAULT_MESSAGE,
  );
  assert.equal(ran, false, 'a middleware ran for a connection already gone');
  // an empty chain for a gone connection is not an acceptance
  assertRejected(runMiddleware([], {}, () => gone));

  gone = false;
  const verdict = runMiddleware(
    [
      (_c, next) => {
        gone = true; // e.g. ctx.socket.destroy()
        next();
      },
      mark,
    ],
    {},
    () => gone,
  );
  assertRejected(verdict, DEFAULT_MESSAGE);
  assert.equal(ran, false, 'the chain went on after the connection went away');

  gone = false;
  const result = runMiddleware(
    [
      async (_c, next) => {
        await null;
        next();
        gone = true;
      },
    ],
    {},
    () => gone,
  );
  assertRejected(await result, DEFAULT_MESSAGE);

  // the last middleware accepts but the connection went away meanwhile: rejected
  gone = false;
  assertRejected(
    runMiddleware(
      [
        (_c, next) => {
          next();
          gone = true;
        },
      ],
      {},
      () => gone,
    ),
  );
});

test('next() called twice: the second call is ignored, whichever it is', async () => {
  assert.equal(
    runMiddleware(
      [
        (_c, next) => {
          next();
          next(new Error('second'));
        },
      ],
      {},
      alive,
    ),
    true,
  );
  assertRejected(
    runMiddleware(
      [
        (_c, next) => {
          next(new Error('first'));
          next();
        },
      ],
      {},
      alive,
    ),
    'first',
  );
  let runs = 0;
  const counted = (_c, next) => {
    runs++;
    next();
  };
  assert.equal(
    await runMiddleware(
      [
        async (_c, next) => {
          next();
          await null;
          next();
        },
        counted,
      ],
      {},
      alive,
    ),
    true,
  );
  assert.equal(runs, 1, 'a second next() advanced the chain again');
});

test('a StelarError with MIDDLEWARE_REJECTED passes through unchanged (same object, custom close code kept)', async () => {
  const custom = new StelarError(ErrorCode.MIDDLEWARE_REJECTED, 'go away', 4403);
  assert.equal(runMiddleware([(_c, next) => next(custom)], {}, alive), custom);
  assert.equal(
    runMiddleware(
      [
        () => {
          throw custom;
        },
      ],
      {},
      alive,
    ),
    custom,
  );
  assert.equal(
    await runMiddleware(
      [
        async () => {
          throw custom;
        },
      ],
      {},
      alive,
    ),
    custom,
  );
  assert.equal(custom.closeCode, 4403);
});

test('a StelarError with another code is turned into MIDDLEWARE_REJECTED, keeping its message', () => {
  const other = new StelarError(ErrorCode.RATE_LIMITED, 'slow down');
  assert.notEqual(other.code, ErrorCode.MIDDLEWARE_REJECTED);
  const verdict = runMiddleware([(_c, next) => next(other)], {}, alive);
  assert.notEqual(verdict, other);
  assertRejected(verdict, 'slow down');
});
