/**
 * A client's arrival and departure, in one place.
 *
 * Arrival (the handshake): the client's Connect is checked (protocol version), recovery is
 * negotiated, the middleware chain runs, and an accepted client is restored (recovery),
 * registered under its id, told its id in the server's Connect, sent what it missed, and
 * announced to `onClientConnect` and the `onConnection` handlers.
 *
 * Departure: an accepted client that is gone is saved for recovery, unregistered, announced
 * to `onClientDisconnect` and the `onDisconnect` handlers (which still see its rooms), and
 * forgotten by the adapter and the rate limiter.
 */
import type { Adapter } from '../contracts/index.js';
import { ErrorCode, type Packet, PacketType, PROTOCOL_VERSION, StelarError } from '../protocol/index.js';
import { type ContextHost, StelarContext } from './context.js';
import { channels, type ServerDiagnostics } from './diagnostics.js';
import { type Handlers, invokeHandler } from './handlers.js';
import { runHook } from './hooks.js';
import { runMiddleware } from './middleware.js';
import type { ResolvedConfig } from './options.js';
import type { Presence } from './presence/presence.js';
import type { RateLimits } from './rate-limiter.js';
import type { RestoreResult, SessionRecovery } from './recovery.js';
import type { CredentialRefresh } from './refresh.js';
import { type Session, SessionState } from './session.js';
import type { StatsCounters } from './stats.js';

/** The client registry's side of a lifecycle (the hub implements it). */
export interface ClientRegistry {
  /** An accepted client with this id is connected to this node. */
  has(id: string): boolean;
  /** The session went live under its id: make it addressable. */
  register(session: Session): void;
  /** Removes it, if it is the session registered under its id; false otherwise. */
  unregister(session: Session): boolean;
}

export interface LifecycleParts {
  config: ResolvedConfig;
  handlers: Handlers;
  recovery: SessionRecovery | null;
  registry: ClientRegistry;
  adapter: Adapter;
  rateLimits: RateLimits;
  counters: StatsCounters;
  contextHost: ContextHost;
  diagnostics: ServerDiagnostics;
  /** Announces the rooms a client is in when it arrives and when it departs. */
  presence?: Presence | null;
  /** Connection expiries set by middleware (`ctx.setExpiry`), armed once the client is accepted. */
  refresh: CredentialRefresh;
}

export class ClientLifecycle {
  readonly #p: LifecycleParts;

  constructor(parts: LifecycleParts) {
    this.#p = parts;
  }

  // ---- arrival ----------------------------------------------------------------------------

  /** The client's Connect packet: a Promise means "hold later packets until it settles". */
  handshake(session: Session, packet: Packet): void | Promise<void> {
    const { recovery, handlers, contextHost } = this.#p;
    const data = packet.data as { v?: unknown; auth?: unknown; recovery?: unknown; refresh?: unknown } | undefined;
    const isObject = data !== null && typeof data === 'object';
    if (isObject && data.v !== undefined && data.v !== PROTOCOL_VERSION) {
      session.fail(new StelarError(ErrorCode.PACKET_UNEXPECTED, `unsupported protocol version ${String(data.v)}`, 1002));
      return;
    }
    session.beginHandshake(recovery && isObject ? recovery.negotiate(data.recovery) : null, isObject && data.refresh === true);
    const ctx = new StelarContext(contextHost, session, 'connection', isObject ? data.auth : undefined);
    const chain = handlers.middleware;
    if (chain.length === 0) return this.#accept(session, ctx);
    const { connectTimeout, logger } = this.#p.config;
    // A next() called later is waited for, within what is left of the connection's connectTimeout.
    const verdict = runMiddleware(chain, ctx, () => session.state !== SessionState.HANDSHAKE, {
      deadline: session.openedAt + connectTimeout,
      connectTimeout,
      logger,
    });
    const finish = (v: true | StelarError): void => {
      if (session.state !== SessionState.HANDSHAKE) return; // closed meanwhile
      if (v === true) void this.#accept(session, ctx);
      else {
        this.#p.counters.refused(session.protocol, v.code === ErrorCode.CONNECT_TIMEOUT ? 'connect_timeout' : 'middleware_rejected');
        session.fail(v);
      }
    };
    if (verdict instanceof Promise) return verdict.then(finish);
    finish(verdict);
  }

  /** Middleware accepted: restore (maybe async), then go live. */
  #accept(session: Session, ctx: StelarContext): void | Promise<void> {
    if (session.state !== SessionState.HANDSHAKE) return;
    // Middleware accepted credentials whose expiry it set in the past: refused as expired.
    if (!this.#p.refresh.acceptable(session)) return;
    const restoring = this.#p.recovery?.restore(session);
    if (restoring instanceof Promise) return restoring.then((outcome) => this.#admit(session, ctx, outcome));
    this.#admit(session, ctx, restoring);
  }

  #admit(session: Session, ctx: StelarContext, restored: RestoreResult | undefined): void {
    const { config: c, recovery, registry, counters, handlers } = this.#p;
    if (session.state !== SessionState.HANDSHAKE) {
      if (restored?.ok) restored.take(); // closed while the store answered: release it
      return;
    }
    // Synchronous from here on: a recovered session's replay cannot be overtaken by live messages.
    const admission = recovery?.admit(session, restored, (id) => registry.has(id)) ?? null;
    session.open(admission?.id ?? session.id);
    session.transport.limitInbound(c.maxFrameSize);
    registry.register(session);
    this.#p.refresh.arm(session);
    this.#p.rateLimits.bind(session.id, session.remoteAddress, session.protocol);
    counters.clientAccepted(session.protocol);
    if (channels.connectionOpen.hasSubscribers) this.#p.diagnostics.connectionOpen(session, admission?.fields.recovered ?? false);
    session.sendPacket({
      type: PacketType.CONNECT,
      event: '',
      data: {
        v: PROTOCOL_VERSION,
        id: session.id,
        heartbeatInterval: c.heartbeatInterval,
        heartbeatTimeout: c.heartbeatTimeout,
        maxPayloadSize: c.maxPayloadSize,
        ...admission?.fields,
      },
    });
    if (admission) {
      const replayed = admission.replay();
      counters.sent(replayed);
      counters.recoveryOutcome(admission.fields.recovered, admission.fields.recovery.reason, replayed);
    }
    // Rooms joined in middleware or restored by recovery: announced now that the client is live.
    this.#p.presence?.arrived(session, this.#p.adapter.roomsOf(session.id));
    if (c.hooks.onClientConnect) {
      runHook(
        c.hooks,
        'onClientConnect',
        { clientId: session.id, ip: session.remoteAddress, protocol: session.protocol, metadata: session.metadata },
        c.logger,
      );
    }
    for (const handler of handlers.connection) {
      if (!session.isOpen) break; // a handler closed it
      invokeHandler(handler, ctx, c.logger, 'onConnection');
    }
  }

  // ---- departure --------------------------------------------------------------------------

  /** The socket of an admitted session is gone. Only accepted clients are announced. */
  depart(session: Session, code: number, reason: string): void {
    const { config: c, recovery, registry, adapter, counters, handlers, rateLimits, contextHost } = this.#p;
    const id = session.id;
    if (!registry.unregister(session)) return;
    // Saved first, with the history position of this very moment: whatever is sent from here
    // on (disconnect handlers included) is not written to it and must be replayed.
    recovery?.save(session, adapter.roomsOf(id), code);
    counters.clientGone(session.protocol);
    if (channels.connectionClose.hasSubscribers) this.#p.diagnostics.connectionClose(session, code, reason);
    if (c.hooks.onClientDisconnect) {
      runHook(
        c.hooks,
        'onClientDisconnect',
        {
          clientId: id,
          ip: session.remoteAddress,
          protocol: session.protocol,
          rooms: session.rooms,
          metadata: session.metadata,
          code,
          reason,
        },
        c.logger,
      );
    }
    if (handlers.disconnect.length) {
      const ctx = new StelarContext(contextHost, session, 'disconnect', { code, reason });
      for (const handler of handlers.disconnect) invokeHandler(handler, ctx, c.logger, 'onDisconnect', { code, reason });
    }
    const presence = this.#p.presence;
    // Copied before they are dropped, and only when some room may announce the leave.
    const leaving = presence?.notifying ? [...adapter.roomsOf(id)] : null;
    adapter.removeAll(id);
    if (leaving) presence?.departed(session, leaving);
    rateLimits.forget(id, session.remoteAddress);
  }
}
