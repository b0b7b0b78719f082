// permessage-deflate negotiation (RFC 7692 sections 5 and 7.1), without sockets: the header
// grammar, the server's choice among offers and its answer, the client's offer and its check
// of the answer, and the options' validation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  acceptDeflateOffer,
  CLIENT_DEFLATE_DEFAULTS,
  checkDeflateAnswer,
  DEFLATE_DEFAULTS,
  deflateOffer,
  parseExtensions,
  resolveDeflateOptions,
} from '../../dist/websocket/index.js';

const server = (over = {}) => resolveDeflateOptions(over);
/** The answer's header value for `offer`, or null when declined. */
const answer = (offer, over) => acceptDeflateOffer(offer, server(over))?.response ?? null;
const params = (offer, over) => acceptDeflateOffer(offer, server(over))?.params ?? null;

describe('Sec-WebSocket-Extensions grammar (RFC 6455 section 9.1)', () => {
  it('reads names, flags, token and quoted values, with or without spaces', () => {
    assert.deepEqual(parseExtensions('permessage-deflate'), [{ name: 'permessage-deflate', params: [] }]);
    assert.deepEqual(parseExtensions('permessage-deflate;client_max_window_bits; server_max_window_bits = 10 , foo; bar="baz"'), [
      {
        name: 'permessage-deflate',
        params: [
          ['client_max_window_bits', true],
          ['server_max_window_bits', '10'],
        ],
      },
      { name: 'foo', params: [['bar', 'baz']] },
    ]);
    assert.deepEqual(parseExtensions('x; a="\\1\\0"'), [{ name: 'x', params: [['a', '10']] }]);
  });

  for (const bad of [
    '',
    ',',
    'a,,b',
    'a,',
    ';a',
    'a;',
    'a; =1',
    'a; b=',
    'a; b="1',
    'a; b="1 2"',
    'a; b=""',
    'a b',
    'a; b=1 2',
    'a; b="\\',
    'pmd\u00e9',
    'a; b="x\u0001"',
  ]) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.equal(parseExtensions(bad), null));
  }
});

describe('server: accepting an offer', () => {
  it('answers a plain offer with the server defaults (no context kept either way)', () => {
    assert.equal(answer('permessage-deflate'), 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
    assert.deepEqual(params('permessage-deflate'), { ownNoContextTakeover: true, peerNoContextTakeover: true, ownWindowBits: 15, peerWindowBits: 15 });
  });

  it("answers the browsers' offer (client_max_window_bits without a value) without naming a client window", () => {
    assert.equal(answer('permessage-deflate; client_max_window_bits'), 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
    assert.equal(
      answer('permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 }),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=10',
    );
  });

  it('keeps contexts when configured to, unless the client asks otherwise', () => {
    const keep = { serverNoContextTakeover: false, clientNoContextTakeover: false };
    assert.equal(answer('permessage-deflate', keep), 'permessage-deflate');
    assert.deepEqual(params('permessage-deflate', keep), { ownNoContextTakeover: false, peerNoContextTakeover: false, ownWindowBits: 15, peerWindowBits: 15 });
    assert.equal(answer('permessage-deflate; server_no_context_takeover', keep), 'permessage-deflate; server_no_context_takeover');
    // client_no_context_takeover in an offer is the client's promise: taken up in the answer.
    assert.equal(answer('permessage-deflate; client_no_context_takeover', keep), 'permessage-deflate; client_no_context_takeover');
    assert.equal(params('permessage-deflate; client_no_context_takeover', keep).peerNoContextTakeover, true);
  });

  it('server_max_window_bits: the same or a smaller value, named in the answer', () => {
    assert.equal(
      answer('permessage-deflate; server_max_window_bits=10'),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10',
    );
    assert.equal(params('permessage-deflate; server_max_window_bits=10').ownWindowBits, 10);
    assert.equal(params('permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 9 }).ownWindowBits, 9);
    assert.equal(params('permessage-deflate; server_max_window_bits="8"').ownWindowBits, 8);
    // A server with a smaller window says so unasked (section 7.1.2.1 allows it).
    assert.match(answer('permessage-deflate', { serverMaxWindowBits: 11 }), /; server_max_window_bits=11$/);
  });

  it('client_max_window_bits: answered only when offered, never above the offered value', () => {
    assert.equal(params('permessage-deflate; client_max_window_bits=9').peerWindowBits, 9);
    assert.match(answer('permessage-deflate; client_max_window_bits=9'), /; client_max_window_bits=9$/);
    assert.match(answer('permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }), /; client_max_window_bits=10$/);
    // Not offered: the answer must not name it, whatever our setting (section 7.1.2.2).
    assert.doesNotMatch(answer('permessage-deflate', { clientMaxWindowBits: 10 }), /client_max_window_bits/);
    assert.equal(params('permessage-deflate', { clientMaxWindowBits: 10 }).peerWindowBits, 15);
  });

  it('declines offers with unknown, repeated or invalid parameters, and takes the next acceptable one', () => {
    for (const bad of [
      'permessage-deflate; foo',
      'permessage-deflate; foo=1',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      'permessage-deflate; server_no_context_takeover=1',
      'permessage-deflate; client_no_context_takeover="x"',
      'permessage-deflate; server_max_window_bits',
      'permessage-deflate; server_max_window_bits=7',
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; server_max_window_bits=08',
      'permessage-deflate; server_max_window_bits=1a',
      'permessage-deflate; client_max_window_bits=0',
      'permessage-deflate; client_max_window_bits=100',
      'permessage-deflate; client_max_window_bits=9; client_max_window_bits=10',
    ]) {
      assert.equal(answer(bad), null, bad);
      assert.equal(
        answer(`${bad}, permessage-deflate; client_max_window_bits=11`),
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=11',
        bad,
      );
    }
  });

  it('takes the first acceptable offer in order, skipping other extensions', () => {
    assert.match(answer('x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=9, permessage-deflate'), /server_max_window_bits=9$/);
    assert.equal(answer('x-webkit-deflate-frame; no_context_takeover'), null);
    assert.equal(answer('Permessage-Deflate'), null, 'names are matched exactly');
  });

  it('ignores a header outside the grammar (no compression, the handshake goes on)', () => {
    assert.equal(answer('permessage-deflate,,'), null);
    assert.equal(answer('permessage-deflate; a="'), null);
  });
});

describe('client: offer and answer', () => {
  const client = (over) => resolveDeflateOptions(over ?? true, 'perMessageDeflate', CLIENT_DEFLATE_DEFAULTS);

  it('offers client_max_window_bits, plus what it asks of the server', () => {
    assert.equal(deflateOffer(client()), 'permessage-deflate; client_max_window_bits');
    assert.equal(
      deflateOffer(client({ serverNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 })),
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    );
  });

  it('accepts valid answers', () => {
    assert.deepEqual(checkDeflateAnswer('permessage-deflate', client()), {
      ownNoContextTakeover: true,
      peerNoContextTakeover: false,
      ownWindowBits: 15,
      peerWindowBits: 15,
    });
    assert.deepEqual(
      checkDeflateAnswer(
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10',
        client(),
      ),
      {
        ownNoContextTakeover: true,
        peerNoContextTakeover: true,
        ownWindowBits: 10,
        peerWindowBits: 9,
      },
    );
    assert.equal(checkDeflateAnswer('permessage-deflate;server_max_window_bits="12"', client({ serverMaxWindowBits: 12 })).peerWindowBits, 12);
  });

  for (const [header, over, why] of [
    ['x-webkit-deflate-frame', undefined, /did not offer/],
    ['permessage-deflate, permessage-deflate', undefined, /did not offer/],
    ['permessage-deflate; foo', undefined, /invalid/],
    ['permessage-deflate; client_max_window_bits', undefined, /invalid/],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', undefined, /invalid/],
    ['permessage-deflate; server_max_window_bits=16', undefined, /invalid/],
    ['permessage-deflate; client_max_window_bits=13', { clientMaxWindowBits: 12 }, /above the value offered/],
    ['permessage-deflate; server_max_window_bits=11', { serverMaxWindowBits: 10 }, /above the value asked/],
    ['permessage-deflate;', undefined, /unreadable/],
  ]) {
    it(`fails the connection on ${JSON.stringify(header)}`, () => {
      const result = checkDeflateAnswer(header, client(over));
      assert.equal(typeof result, 'string');
      assert.match(result, why);
    });
  }
});

describe('options', () => {
  it('off, defaults, or checked settings', () => {
    assert.equal(resolveDeflateOptions(undefined), null);
    assert.equal(resolveDeflateOptions(false), null);
    assert.deepEqual(resolveDeflateOptions(true), DEFLATE_DEFAULTS);
    assert.deepEqual(resolveDeflateOptions({ threshold: 0, level: 9 }), { ...DEFLATE_DEFAULTS, threshold: 0, level: 9 });
    for (const bad of [
      1,
      'yes',
      { threshold: -1 },
      { level: 10 },
      { serverMaxWindowBits: 7 },
      { clientMaxWindowBits: 16 },
      { concurrency: 0 },
      { serverNoContextTakeover: 1 },
      { thresold: 1 },
    ]) {
      assert.throws(() => resolveDeflateOptions(bad), /perMessageDeflate/, JSON.stringify(bad));
    }
  });
});
