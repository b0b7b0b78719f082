/**
 * Every label value the server's metrics can carry, declared once. The server's plain
 * counters (stats.ts) are arrays laid out by these lists, the first label most significant,
 * exactly as the registry lays out a family's series, so a scrape copies them as they are.
 * Nothing here comes from a client: a packet type past the table counts as 'unknown', an
 * error code outside the catalogue as 'other'.
 */
import { RecoveryFailure, type TransportProtocol } from '../../contracts/index.js';
import { ErrorCode, PacketType } from '../../protocol/index.js';
import type { RateLimitScope } from '../extension-types.js';
import type { Assert, SameKeys } from '../option-table.js';

export const TRANSPORTS = ['ws', 'tcp'] as const satisfies readonly TransportProtocol[];

/** Each packet type's label; a Record over PacketType, so a new type fails to compile until named here. */
const TYPE_NAMES: Readonly<Record<PacketType, string>> = {
  [PacketType.JSON]: 'json',
  [PacketType.BINARY]: 'binary',
  [PacketType.PING]: 'ping',
  [PacketType.PONG]: 'pong',
  [PacketType.ACK_REQUEST]: 'ack_request',
  [PacketType.ACK_RESPONSE]: 'ack_response',
  [PacketType.CONNECT]: 'connect',
  [PacketType.DISCONNECT]: 'disconnect',
  [PacketType.JOIN_ROOM]: 'join_room',
  [PacketType.LEAVE_ROOM]: 'leave_room',
  [PacketType.ERROR]: 'error',
};
/** Index = the PacketType value (they run from 0 without gaps), then 'unknown' for any other type byte. */
export const PACKET_TYPES: readonly string[] = [
  ...Object.values(PacketType)
    .sort((a, b) => a - b)
    .map((t) => TYPE_NAMES[t]),
  'unknown',
];
const UNKNOWN_TYPE = PACKET_TYPES.length - 1;

/** Why a connection was not accepted. */
export const REFUSAL_REASONS = [
  /** maxConnections (STELAR_ERR_SERVER_FULL, 4002). */
  'max_connections',
  /** maxConnectionsPerIP or a customIPTracker (STELAR_ERR_TOO_MANY_FROM_IP, 4003). */
  'max_connections_per_ip',
  /** connectionRateLimit (STELAR_ERR_TOO_MANY_FROM_IP, 4003). */
  'connection_rate',
  /** allowedOrigins (WebSocket upgrade answered 403). */
  'origin_not_allowed',
  /** A shutdown or stop under way (upgrade answered 503, TCP socket closed). */
  'shutting_down',
  /** A middleware said no (STELAR_ERR_MIDDLEWARE_REJECTED, 4001). */
  'middleware_rejected',
  /** No Connect, or middleware unfinished, within connectTimeout (4004). */
  'connect_timeout',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** The rate-limit scopes of `onRateLimitExceeded` (extension-types.ts RateLimitScope). */
export const RATE_LIMIT_SCOPES = ['global', 'event', 'client', 'custom', 'bytes'] as const satisfies readonly RateLimitScope[];
/** Fails to compile when RateLimitScope and the list above differ. */
export type RateLimitScopesListed = Assert<SameKeys<RateLimitScope, (typeof RATE_LIMIT_SCOPES)[number]>>;

/** Every STELAR_ERR_* code, then 'other'. */
export const ERROR_CODES: readonly string[] = [...Object.values(ErrorCode), 'other'];
const ERROR_SLOTS = new Map<string, number>(ERROR_CODES.map((code, i) => [code, i]));
const OTHER_ERROR = ERROR_CODES.length - 1;

export const RECOVERY_FAILURES: readonly string[] = Object.values(RecoveryFailure);

/** 0 for 'ws', 1 for 'tcp'. */
export function transportIndex(protocol: TransportProtocol): number {
  return protocol === 'tcp' ? 1 : 0;
}

/** The slot of (transport, packet type) in the traffic counters; `type` is a packet's first byte. */
export function trafficSlot(protocol: TransportProtocol, type: number | undefined): number {
  const t = type !== undefined && type < UNKNOWN_TYPE ? type : UNKNOWN_TYPE;
  return protocol === 'tcp' ? PACKET_TYPES.length + t : t;
}

export function refusalSlot(protocol: TransportProtocol, reason: RefusalReason): number {
  return transportIndex(protocol) * REFUSAL_REASONS.length + REFUSAL_REASONS.indexOf(reason);
}

export function rateLimitSlot(protocol: TransportProtocol, scope: RateLimitScope): number {
  return transportIndex(protocol) * RATE_LIMIT_SCOPES.length + RATE_LIMIT_SCOPES.indexOf(scope);
}

export function errorSlot(code: string): number {
  return ERROR_SLOTS.get(code) ?? OTHER_ERROR;
}

/** -1 for a reason outside the table (then nothing is counted). */
export function recoveryFailureSlot(reason: string): number {
  return RECOVERY_FAILURES.indexOf(reason);
}
