/**
 * Unfinished inbound frames, across the whole server. Each connection may hold one frame in
 * progress of up to `maxFrameSize` (a WebSocket message's fragments count too); this part
 * bounds what all of them hold together and makes a frame in progress keep arriving.
 *
 * - Budget (`maxInboundBufferedBytes`): after every socket read, the connection's transport
 *   says how many bytes it holds for its unfinished frame; the difference is charged to one
 *   shared total. When the total is over the budget, the connection holding the most is closed
 *   (1013, `STELAR_ERR_INBOUND_OVERLOAD`) and its buffer dropped at once, until the total fits.
 *   The largest, not the one that read last: an attacker's parked frames go first, and an
 *   honest client's small frame arriving while the budget is full does not pay for them.
 * - Rate (`minInboundRate`): while a frame is in progress, the bytes read are counted per
 *   window; the sweep closes a connection whose window is over and brought less than
 *   `bytesPerSecond` x the window (4005, `STELAR_ERR_FRAME_STALLED`). A frame that completes
 *   ends its window. Windows restart while reads are paused for the client's backlog (the
 *   server is not reading, so nothing can arrive) and after a late sweep (the server was not
 *   looking: an event-loop stall must not be blamed on the clients).
 *
 * A read costs one getter call and a subtraction; Date.now() only when a frame starts.
 * Listeners are shared functions that find their state through a symbol on the socket.
 */
import { ErrorCode, StelarError } from '../protocol/index.js';
import { sweepInterval } from './heartbeat.js';
import type { ResolvedConfig } from './options.js';
import type { Session } from './session.js';

const kTracked = Symbol('stelar.inbound');

class Tracked {
  readonly guard: InboundGuard;
  readonly session: Session;
  /** Bytes charged to the total for this connection. */
  charged = 0;
  /** Start of the current rate window (ms); 0 = no frame in progress. */
  since = 0;
  /** Bytes read since `since`. */
  bytes = 0;
  constructor(guard: InboundGuard, session: Session) {
    this.guard = guard;
    this.session = session;
  }
}

type TaggedSocket = { [kTracked]?: Tracked; [key: symbol]: unknown };
let onData: (this: TaggedSocket, chunk: Buffer) => void;

export class InboundGuard {
  static {
    onData = function (chunk) {
      const t = this[kTracked];
      if (t) t.guard.#read(t, chunk.length);
    };
  }

  readonly #config: ResolvedConfig;
  /** Bytes held for unfinished frames, all connections together. */
  #total = 0;
  /** Connections with a frame in progress. */
  readonly #partial = new Set<Tracked>();
  #lastSweep = 0;

  constructor(config: ResolvedConfig) {
    this.#config = config;
  }

  /** Bytes held for unfinished inbound frames right now (all connections). */
  get totalBytes(): number {
    return this.#total;
  }

  /** Starts accounting a session's reads (after its transport attached its own data listener). */
  watch(session: Session): void {
    const socket = session.socket as unknown as TaggedSocket & { on(event: 'data', fn: typeof onData): void };
    const t = new Tracked(this, session);
    socket[kTracked] = t;
    socket.on('data', onData);
  }

  /** The session's socket is gone: its charge is released. */
  forget(session: Session): void {
    const socket = session.socket as unknown as TaggedSocket;
    const t = socket[kTracked];
    if (!t) return;
    socket[kTracked] = undefined;
    this.#release(t);
  }

  #read(t: Tracked, n: number): void {
    const pending = t.session.transport.inboundPending;
    this.#total += pending - t.charged;
    t.charged = pending;
    if (pending === 0) {
      if (t.since !== 0) {
        t.since = 0;
        this.#partial.delete(t);
      }
      return;
    }
    if (t.since === 0) {
      t.since = Date.now();
      t.bytes = 0;
      this.#partial.add(t);
    } else {
      t.bytes += n;
    }
    if (this.#total > this.#config.maxInboundBufferedBytes) this.#shed();
  }

  /** Closes the connections holding the most until the total fits the budget. */
  #shed(): void {
    const max = this.#config.maxInboundBufferedBytes;
    // Bounded: every pass removes one connection from #partial.
    while (this.#total > max && this.#partial.size > 0) {
      let largest: Tracked | null = null;
      for (const t of this.#partial) if (largest === null || t.charged > largest.charged) largest = t;
      const victim = largest!;
      const held = victim.charged;
      this.#release(victim);
      victim.session.transport.discardInbound();
      victim.session.fail(
        new StelarError(ErrorCode.INBOUND_OVERLOAD, `server busy: unfinished inbound frames over ${max} bytes (this connection held ${held})`),
      );
    }
  }

  #release(t: Tracked): void {
    this.#total -= t.charged;
    t.charged = 0;
    t.since = 0;
    this.#partial.delete(t);
  }

  /** Called by the hub's sweep: closes frames in progress that arrive too slowly. */
  sweep(now: number): void {
    const c = this.#config;
    const rate = c.minInboundRate;
    const period = sweepInterval(c.heartbeatTimeout, c.connectTimeout);
    const late = this.#lastSweep !== 0 && now - this.#lastSweep > 2 * period + 100;
    this.#lastSweep = now;
    if (rate === null || this.#partial.size === 0) return;
    for (const t of [...this.#partial]) {
      if (late || t.session.transport.readsPaused) {
        t.since = now;
        t.bytes = 0;
        continue;
      }
      const elapsed = now - t.since;
      if (elapsed < rate.windowMs) continue;
      if (t.bytes * 1000 < rate.bytesPerSecond * elapsed) {
        this.#release(t);
        t.session.transport.discardInbound();
        t.session.fail(
          new StelarError(
            ErrorCode.FRAME_STALLED,
            `frame in progress arrived at ${Math.floor((t.bytes * 1000) / elapsed)} bytes/s, under ${rate.bytesPerSecond}`,
          ),
        );
      } else {
        t.since = now;
        t.bytes = 0;
      }
    }
  }
}
