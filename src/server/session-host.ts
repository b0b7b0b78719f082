/**
 * What a session reports upward, wired to the parts that handle it: packets go to the
 * dispatcher, a gone socket to the hub and the lifecycle, protocol errors and slow
 * consumers to the logger and the hooks. Built once per server by the composition root.
 */
import type { Adapter } from '../contracts/index.js';
import { CloseCode, type StelarError } from '../protocol/index.js';
import { channels, type ServerDiagnostics } from './diagnostics.js';
import type { Dispatcher } from './dispatcher.js';
import { runHook } from './hooks.js';
import type { Hub } from './hub.js';
import type { DrainNotices } from './drain.js';
import type { InFlightRequests } from './in-flight.js';
import type { ClientLifecycle } from './lifecycle.js';
import type { ResolvedConfig } from './options.js';
import type { CredentialRefresh } from './refresh.js';
import type { OutgoingRequests } from './outgoing-requests.js';
import { type Session, type SessionHost, SessionState } from './session.js';
import type { StatsCounters } from './stats.js';

/** A peer's bad packet or frame: logged at debug level and reported to `onInvalidMessage`. */
export function reportInvalid(config: ResolvedConfig, session: Session, err: StelarError): void {
  config.logger.debug(`invalid message from ${session.id}: ${err.message}`);
  runHook(config.hooks, 'onInvalidMessage', { clientId: session.id, reason: err.message, code: err.code, protocol: session.protocol }, config.logger);
}

export interface SessionHostParts {
  config: ResolvedConfig;
  hub: Hub;
  dispatcher: Dispatcher;
  lifecycle: ClientLifecycle;
  adapter: Adapter;
  counters: StatsCounters;
  diagnostics: ServerDiagnostics;
  inFlight?: InFlightRequests;
  refresh: CredentialRefresh;
  drains: DrainNotices;
  /** Requests the server sent to clients: a closing connection can no longer answer them. */
  outgoing?: OutgoingRequests;
}

export function createSessionHost(p: SessionHostParts): SessionHost {
  const { config, hub, dispatcher, lifecycle, adapter, counters, diagnostics, inFlight, refresh, drains, outgoing } = p;
  return {
    handlePacket(session, bytes) {
      counters.packetIn(session.protocol, bytes);
      return dispatcher.handle(session, bytes);
    },
    onInvalid(session, err) {
      reportInvalid(config, session, err);
      session.fail(err);
    },
    // The transport already told the peer (close frame / Disconnect); only count and report it.
    onProtocolError(session, err) {
      counters.error(err.code);
      reportInvalid(config, session, err);
    },
    onClosing: (session) => outgoing?.release(session),
    onClosed(session, code, reason) {
      inFlight?.release(session);
      outgoing?.release(session);
      refresh.forget(session);
      drains.closed(session);
      if (hub.closed(session)) lifecycle.depart(session, code, reason);
      hub.settled();
    },
    onSlowConsumer(session, buffered) {
      if (session.state >= SessionState.CLOSING) return;
      counters.slowConsumer(session.protocol);
      config.logger.warn(`client ${session.id} is not reading (${buffered} bytes queued): disconnecting`);
      runHook(
        config.hooks,
        'onSlowConsumer',
        { clientId: session.id, protocol: session.protocol, bufferedBytes: buffered, max: config.maxBufferedBytes },
        config.logger,
      );
      if (channels.slowConsumer.hasSubscribers) diagnostics.slowConsumer(session, buffered, config.maxBufferedBytes);
      session.close(CloseCode.SLOW_CONSUMER, 'slow consumer');
    },
    counters,
    onDrain: (session) => drains.drained(session),
    roomsOf: (id) => adapter.roomsOf(id),
    diagnostics,
    get maxBufferedBytes() {
      return config.maxBufferedBytes;
    },
    get pingLimit() {
      return config.pingLimit;
    },
  };
}
