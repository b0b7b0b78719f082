/**
 * The few calls the adapter makes on the application's NATS connection, recognised by shape
 * (never imported: the core keeps zero runtime dependencies). Both current clients have the
 * same core API: `nats` v2 (`connect()` from 'nats') and `@nats-io/transport-node` v3.
 *
 * Nothing here publishes while the connection is down: both clients would keep the bytes in
 * their outbound buffer until they reconnect, without a bound. The link asks `ready` first.
 */

export interface NatsDriver {
  /** Hands `data` to the client; throws when it is closed or `data` is above max_payload. */
  publish(subject: string, data: Uint8Array): void;
  /** Subscribes with a callback; returns the function that unsubscribes. The client resubscribes after a reconnect. */
  subscribe(subject: string, onMessage: (data: Buffer) => void, onError: (err: unknown) => void): () => void;
  /** Follows the connection's status; returns the function that stops following it. */
  watch(events: StatusEvents): () => void;
  /** Resolves when the server has answered a PING sent now (the connection is usable). */
  flush(): Promise<void>;
  /** The client was closed (by its owner, or after giving up reconnecting). */
  readonly closed: boolean;
  /** The server's max_payload, once connected. */
  readonly maxPayload: number | undefined;
}

export interface StatusEvents {
  /** Reconnected (the client has resubscribed). */
  up(): void;
  /** Disconnected, or the connection went stale; the client is trying to reconnect. */
  down(why: string): void;
  /** Closed for good. */
  closed(): void;
}

type AnyFn = (...args: any[]) => any;

const REQUIRED = ['publish', 'subscribe', 'flush', 'status', 'isClosed', 'closed'] as const;

/** Recognises a connected NATS client by its methods; throws a TypeError naming what is missing. */
export function natsDriverFor(client: unknown): NatsDriver {
  const c = client as Record<string, unknown> | null;
  if (typeof c !== 'object' || c === null) throw new TypeError('expected a connected NATS client (connect() from nats or @nats-io/transport-node)');
  const missing = REQUIRED.filter((m) => typeof c[m] !== 'function');
  if (missing.length) throw new TypeError(`unsupported NATS client: missing ${missing.join(', ')} (expected nats v2 or @nats-io/transport-node)`);
  if ((c.isClosed as AnyFn).call(c) === true) throw new TypeError('the NATS client is closed');
  return new CoreDriver(c);
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

class CoreDriver implements NatsDriver {
  readonly #c: any;

  constructor(client: any) {
    this.#c = client;
  }

  get closed(): boolean {
    return this.#c.isClosed() === true;
  }

  get maxPayload(): number | undefined {
    const n = this.#c.info?.max_payload;
    return typeof n === 'number' ? n : undefined;
  }

  publish(subject: string, data: Uint8Array): void {
    this.#c.publish(subject, data);
  }

  subscribe(subject: string, onMessage: (data: Buffer) => void, onError: (err: unknown) => void): () => void {
    const sub = this.#c.subscribe(subject, {
      callback: (err: unknown, msg: { data?: Uint8Array } | null) => {
        if (err) return onError(err);
        if (!msg?.data) return;
        try {
          onMessage(asBuffer(msg.data));
        } catch (e) {
          // Never into the client's dispatch loop: report it and keep the subscription.
          onError(e);
        }
      },
    });
    return () => {
      try {
        sub.unsubscribe();
      } catch {
        // Already closed: nothing left to unsubscribe.
      }
    };
  }

  watch(events: StatusEvents): () => void {
    const iter = this.#c.status();
    let stopped = false;
    void (async () => {
      try {
        for await (const s of iter as AsyncIterable<{ type?: string; data?: unknown; server?: unknown }>) {
          if (stopped) break;
          if (s.type === 'disconnect' || s.type === 'staleConnection')
            events.down(s.type === 'disconnect' ? `disconnected from ${String(s.server ?? s.data ?? 'the server')}` : 'stale connection');
          else if (s.type === 'reconnect') events.up();
          else if (s.type === 'close') events.closed();
        }
      } catch {
        // The iterator ends with the client; closed() below reports it.
      }
    })();
    (this.#c.closed() as Promise<unknown>).then(
      () => stopped || events.closed(),
      () => stopped || events.closed(),
    );
    return () => {
      stopped = true;
      if (typeof iter.stop === 'function') iter.stop();
      else void iter.return?.();
    };
  }

  flush(): Promise<void> {
    return this.#c.flush();
  }
}
