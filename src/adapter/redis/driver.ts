/**
 * One small interface over the two Redis clients people actually use, recognised by shape
 * (never imported: the core keeps zero runtime dependencies), each on a single Redis or on
 * Redis Cluster.
 *
 * - node-redis (`redis` v4+): `createClient()`, already connected; `sendCommand(args, opts)`,
 *   `isReady`, `duplicate()` + `connect()` for the subscriber, `subscribe(ch, fn, true)` for
 *   Buffer messages.
 * - ioredis: `new Redis()`; `call()` / `callBuffer()`, `status === 'ready'`, `duplicate()`,
 *   `messageBuffer` events.
 *
 * - Redis Cluster: node-redis `createCluster()` (connected) or ioredis `new Redis.Cluster()`.
 *   Commands are routed by their key (`sendCommand(key, ...)` for node-redis; ioredis finds
 *   the key itself); messages use sharded pub/sub (SPUBLISH / SSUBSCRIBE, Redis 7+), whose
 *   subscriptions both clients move to the new owner of a slot after a failover or a
 *   migration (ioredis through a duplicate with `shardedSubscribers: true`).
 *
 * We never send a command while the client is not ready: both clients would queue it
 * offline without bound, and a cluster message that late is worth less than a dropped one.
 */
export type RedisArg = string | Buffer;

export interface RedisDriver {
  readonly kind: 'node-redis' | 'ioredis';
  /** Redis Cluster: sharded pub/sub, commands routed by key. */
  readonly sharded: boolean;
  /** Connected and able to run commands now. */
  readonly ready: boolean;
  /** Runs a command; bulk replies as strings. `key` routes it on Redis Cluster. */
  command(args: RedisArg[], key?: RedisArg): Promise<unknown>;
  /** Runs a command; bulk replies as Buffers. */
  commandBuffers(args: RedisArg[], key?: RedisArg): Promise<unknown>;
  /** Publishes; resolves with the number of subscribers that received it. */
  publish(channel: string, message: Buffer): Promise<number>;
  /** Listens to up/down changes and errors; returns a function that removes the listeners. */
  watch(onUp: () => void, onDown: (err?: unknown) => void): () => void;
  /** A new connection with the same options, for subscribing (ours to close). */
  duplicate(): Promise<RedisDriver>;
  /** Subscribes to channels (sharded on a cluster); messages arrive as Buffers. The clients resubscribe after a reconnect. */
  subscribe(channels: string[], onMessage: (channel: string, message: Buffer) => void): Promise<void>;
  /** Closes a connection we created (never the user's). */
  quit(): Promise<void>;
}

type AnyFn = (...args: any[]) => any;
interface Emitterish {
  on(event: string, fn: AnyFn): unknown;
  off?(event: string, fn: AnyFn): unknown;
  removeListener?(event: string, fn: AnyFn): unknown;
}

function detach(client: Emitterish, event: string, fn: AnyFn): void {
  if (typeof client.off === 'function') client.off(event, fn);
  else client.removeListener?.(event, fn);
}

function isEmitter(c: unknown): c is Emitterish {
  return typeof c === 'object' && c !== null && typeof (c as Emitterish).on === 'function';
}

/** Recognises the client by its methods; throws a TypeError naming what is missing. */
export function driverFor(client: unknown): RedisDriver {
  const c = client as Record<string, unknown> | null;
  if (!isEmitter(c)) throw new TypeError('expected a connected node-redis client (createClient()) or an ioredis instance');
  if (c.isCluster === true && typeof c.call === 'function' && typeof c.duplicate === 'function') return new IoRedisClusterDriver(c);
  if (typeof c.callBuffer === 'function' && typeof c.call === 'function' && typeof c.duplicate === 'function') return new IoRedisDriver(c);
  // A node-redis cluster has what a client has, plus the shard map.
  if (typeof c.sSubscribe === 'function' && typeof c.nodeClient === 'function' && typeof c.sendCommand === 'function') return new NodeRedisClusterDriver(c);
  if (typeof c.sendCommand === 'function' && typeof c.duplicate === 'function') return new NodeRedisDriver(c);
  throw new TypeError('unsupported Redis client: expected node-redis v4+ (sendCommand, duplicate) or ioredis (call, callBuffer, duplicate)');
}

// RESP type code of bulk strings; node-redis v5+ maps it to Buffer on request (v4 reads returnBuffers).
const BLOB_STRING = 36;
const BUFFER_REPLIES = { returnBuffers: true, typeMapping: { [BLOB_STRING]: Buffer } };

/**
 * Follows a client's link: 'ready' means up, each of `downEvents` (named differently by
 * node-redis and ioredis) means down. Returns the function that stops listening.
 */
function watchLink(c: Emitterish, downEvents: string[], onUp: () => void, onDown: (err?: unknown) => void, upEvent = 'ready'): () => void {
  const down = (err?: unknown): void => onDown(err);
  const up = (): void => onUp();
  c.on(upEvent, up);
  for (const event of downEvents) c.on(event, down);
  return () => {
    detach(c, upEvent, up);
    for (const event of downEvents) detach(c, event, down);
  };
}

class NodeRedisDriver implements RedisDriver {
  readonly kind = 'node-redis' as const;
  readonly sharded = false;
  readonly #c: any;

  constructor(client: any) {
    this.#c = client;
  }

  get ready(): boolean {
    return this.#c.isReady === true;
  }

  command(args: RedisArg[]): Promise<unknown> {
    return this.#c.sendCommand(args);
  }

  commandBuffers(args: RedisArg[]): Promise<unknown> {
    return this.#c.sendCommand(args, BUFFER_REPLIES);
  }

  async publish(channel: string, message: Buffer): Promise<number> {
    return Number(await this.#c.sendCommand(['PUBLISH', channel, message]));
  }

  watch(onUp: () => void, onDown: (err?: unknown) => void): () => void {
    return watchLink(this.#c as Emitterish, ['error', 'end', 'reconnecting'], onUp, onDown);
  }

  async duplicate(): Promise<RedisDriver> {
    const d = this.#c.duplicate();
    // Until watch() attaches ours, an error event must not crash the process.
    d.on('error', () => {});
    await d.connect();
    return new NodeRedisDriver(d);
  }

  async subscribe(channels: string[], onMessage: (channel: string, message: Buffer) => void): Promise<void> {
    await this.#c.subscribe(channels, (message: Buffer, channel: Buffer | string) => onMessage(String(channel), message), true);
  }

  quit(): Promise<void> {
    return quitNodeRedis(this.#c);
  }
}

async function quitNodeRedis(c: any): Promise<void> {
  try {
    if (typeof c.close === 'function') await c.close();
    else await c.quit();
  } catch {
    if (typeof c.destroy === 'function') c.destroy();
    else if (typeof c.disconnect === 'function') await c.disconnect().catch(() => {});
  }
}

/**
 * node-redis on Redis Cluster. `sendCommand(firstKey, isReadonly, args, options)` routes by
 * key; a cluster is up or closed as a whole ('connect' / 'disconnect'), a shard's trouble
 * shows as errors on the commands meant for it.
 */
class NodeRedisClusterDriver implements RedisDriver {
  readonly kind = 'node-redis' as const;
  readonly sharded = true;
  readonly #c: any;

  constructor(client: any) {
    this.#c = client;
  }

  get ready(): boolean {
    return this.#c.isReady === true;
  }

  command(args: RedisArg[], key?: RedisArg): Promise<unknown> {
    return this.#c.sendCommand(key, false, args);
  }

  commandBuffers(args: RedisArg[], key?: RedisArg): Promise<unknown> {
    return this.#c.sendCommand(key, false, args, BUFFER_REPLIES);
  }

  async publish(channel: string, message: Buffer): Promise<number> {
    return Number(await this.#c.sendCommand(channel, false, ['SPUBLISH', channel, message]));
  }

  watch(onUp: () => void, onDown: (err?: unknown) => void): () => void {
    return watchLink(this.#c as Emitterish, ['disconnect'], onUp, onDown, 'connect');
  }

  async duplicate(): Promise<RedisDriver> {
    const d = this.#c.duplicate();
    d.on('error', () => {});
    await d.connect();
    return new NodeRedisClusterDriver(d);
  }

  async subscribe(channels: string[], onMessage: (channel: string, message: Buffer) => void): Promise<void> {
    // One SSUBSCRIBE per channel: channels of different slots in one command are refused (CROSSSLOT).
    const listener = (message: Buffer, channel: Buffer | string): void => onMessage(String(channel), message);
    for (const channel of channels) await this.#c.sSubscribe(channel, listener, true);
  }

  quit(): Promise<void> {
    return quitNodeRedis(this.#c);
  }
}

/**
 * ioredis `Cluster`: routes each command by the key it finds in it. Subscribing happens on a
 * duplicate made with `shardedSubscribers: true` (one subscriber connection per shard, which
 * ioredis moves when the slots move).
 */
class IoRedisClusterDriver implements RedisDriver {
  readonly kind = 'ioredis' as const;
  readonly sharded = true;
  readonly #c: any;

  constructor(client: any) {
    this.#c = client;
  }

  get ready(): boolean {
    return this.#c.status === 'ready';
  }

  command(args: RedisArg[]): Promise<unknown> {
    return this.#c.call(...args);
  }

  commandBuffers(args: RedisArg[]): Promise<unknown> {
    return this.#c.callBuffer(...args);
  }

  async publish(channel: string, message: Buffer): Promise<number> {
    return Number(await this.#c.call('SPUBLISH', channel, message));
  }

  watch(onUp: () => void, onDown: (err?: unknown) => void): () => void {
    return watchLink(this.#c as Emitterish, ['close', 'end'], onUp, onDown);
  }

  async duplicate(): Promise<RedisDriver> {
    const d = this.#c.duplicate(undefined, { shardedSubscribers: true, lazyConnect: false });
    d.on('error', () => {});
    if (d.status !== 'ready') await new Promise<void>((resolve) => d.once('ready', resolve));
    return new IoRedisClusterDriver(d);
  }

  async subscribe(channels: string[], onMessage: (channel: string, message: Buffer) => void): Promise<void> {
    this.#c.on('smessageBuffer', (channel: Buffer, message: Buffer) => onMessage(channel.toString(), message));
    for (const channel of channels) await this.#c.ssubscribe(channel);
  }

  async quit(): Promise<void> {
    try {
      await this.#c.quit();
    } catch {
      this.#c.disconnect();
    }
  }
}

class IoRedisDriver implements RedisDriver {
  readonly kind = 'ioredis' as const;
  readonly sharded = false;
  readonly #c: any;

  constructor(client: any) {
    this.#c = client;
  }

  get ready(): boolean {
    return this.#c.status === 'ready';
  }

  command(args: RedisArg[]): Promise<unknown> {
    return this.#c.call(...args);
  }

  commandBuffers(args: RedisArg[]): Promise<unknown> {
    return this.#c.callBuffer(...args);
  }

  async publish(channel: string, message: Buffer): Promise<number> {
    return Number(await this.#c.call('PUBLISH', channel, message));
  }

  watch(onUp: () => void, onDown: (err?: unknown) => void): () => void {
    return watchLink(this.#c as Emitterish, ['error', 'close'], onUp, onDown);
  }

  async duplicate(): Promise<RedisDriver> {
    const d = this.#c.duplicate();
    d.on('error', () => {});
    if (d.status !== 'ready') {
      if (d.status === 'wait') await d.connect();
      else await new Promise<void>((resolve) => d.once('ready', resolve));
    }
    return new IoRedisDriver(d);
  }

  async subscribe(channels: string[], onMessage: (channel: string, message: Buffer) => void): Promise<void> {
    const c = this.#c;
    c.on('messageBuffer', (channel: Buffer, message: Buffer) => onMessage(channel.toString(), message));
    // ioredis resubscribes after a reconnect unless told not to; then we do it.
    if (c.options?.autoResubscribe === false) c.on('ready', () => void c.subscribe(...channels).catch(() => {}));
    await c.subscribe(...channels);
  }

  async quit(): Promise<void> {
    try {
      await this.#c.quit();
    } catch {
      this.#c.disconnect();
    }
  }
}
