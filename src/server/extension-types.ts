/**
 * The server's extension points, as types: the hooks (with what each one is told), a custom
 * IP tracker and a custom health handler. Public; re-exported by types.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StelarStats, TransportProtocol } from '../contracts/index.js';

/** Decides whether one more connection from an IP is allowed, and counts them. */
export interface IIPTracker {
  check(ip: string): boolean;
  add(ip: string): void;
  remove(ip: string): void;
  getCount(ip: string): number;
  cleanup(): void;
}

// ---- hooks -------------------------------------------------------------------------------

/** Which limit refused a message; 'bytes' is the byte budget (`byteRateLimit`). */
export type RateLimitScope = 'client' | 'event' | 'global' | 'custom' | 'bytes';
export interface RateLimitExceededInfo {
  clientId: string;
  event: string;
  protocol: TransportProtocol;
  ip: string;
  /** Which limit refused the message. */
  scope: RateLimitScope;
}
export interface MaxConnectionsInfo {
  activeConnections: number;
  max: number;
  ip: string;
  protocol: TransportProtocol;
  /** 'maxConnections' (server full) or 'maxConnectionsPerIP' (this IP is at its limit). */
  reason: 'maxConnections' | 'maxConnectionsPerIP';
}
export interface RoomChangeInfo {
  clientId: string;
  room: string;
  metadata: Map<string, unknown>;
  protocol: TransportProtocol;
}
export interface MaxRoomsInfo {
  clientId: string;
  room: string;
  totalRooms: number;
  max: number;
}
export interface MaxRoomsPerClientInfo {
  clientId: string;
  room: string;
  currentRooms: number;
  max: number;
}
export interface PayloadTooLargeInfo {
  clientId: string;
  event: string;
  size: number;
  max: number;
  protocol: TransportProtocol;
}
export interface InvalidMessageInfo {
  clientId: string;
  reason: string;
  /** The STELAR_ERR_* code of the problem. */
  code: string;
  protocol: TransportProtocol;
}
export interface BeforeBroadcastInfo {
  event: string;
  data: unknown;
  excludeId?: string;
  /** Set for `to(room, ...)`. */
  room?: string;
  binary: boolean;
}
export interface ClientConnectInfo {
  clientId: string;
  ip: string;
  protocol: TransportProtocol;
  metadata: Map<string, unknown>;
}
export interface ClientDisconnectInfo {
  clientId: string;
  ip: string;
  protocol: TransportProtocol;
  rooms: ReadonlySet<string>;
  metadata: Map<string, unknown>;
  code: number;
  reason: string;
}
export interface SlowConsumerInfo {
  clientId: string;
  protocol: TransportProtocol;
  bufferedBytes: number;
  max: number;
}
export interface ShutdownInfo {
  signal: string;
}

/** `false` cancels the default action where the hook's doc says so; other values are ignored. */
type HookResult = boolean | void | undefined;

export interface ServerHooks {
  /** Return false to keep the client connected (the message is still dropped). */
  onRateLimitExceeded?(info: RateLimitExceededInfo): HookResult;
  onMaxConnectionsReached?(info: MaxConnectionsInfo): HookResult;
  /** Return false to refuse the join. */
  onClientJoinRoom?(info: RoomChangeInfo): HookResult;
  /** Return false to refuse the leave. */
  onClientLeaveRoom?(info: RoomChangeInfo): HookResult;
  onMaxRoomsReached?(info: MaxRoomsInfo): HookResult;
  onMaxRoomsPerClientReached?(info: MaxRoomsPerClientInfo): HookResult;
  onPayloadTooLarge?(info: PayloadTooLargeInfo): HookResult;
  onInvalidMessage?(info: InvalidMessageInfo): HookResult;
  /** Return false to cancel the broadcast. */
  onBeforeBroadcast?(info: BeforeBroadcastInfo): HookResult;
  onClientConnect?(info: ClientConnectInfo): HookResult;
  onClientDisconnect?(info: ClientDisconnectInfo): HookResult;
  /** Beyond the spec: a client's outbound buffer passed `maxBufferedBytes`; it is disconnected (4006). */
  onSlowConsumer?(info: SlowConsumerInfo): HookResult;
  /** Beyond the spec: graceful shutdown finished (e.g. call process.exit here). */
  onShutdown?(info: ShutdownInfo): HookResult;
}
export type HookName = keyof ServerHooks;

export type CustomHealthHandler = (req: IncomingMessage, res: ServerResponse, stats: StelarStats) => void | Promise<void>;

/**
 * Decides who may read the health path (`healthAuth`): true serves it, false answers 401.
 * A throw or rejection answers 500 (never the stats). Liveness and readiness stay open.
 */
export type HealthAuth = (req: IncomingMessage) => boolean | Promise<boolean>;

/**
 * What the rate-limit buckets are keyed by (`rateLimitKey`): the client id, the remote
 * address, or your own key computed once when a client is accepted.
 */
export type RateLimitKey = 'id' | 'address' | ((client: { id: string; remoteAddress: string; protocol: TransportProtocol }) => string);
