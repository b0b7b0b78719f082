/**
 * The admission checks: may this connection in, may this client join that room, is this
 * event or room name acceptable. Each refusal runs its hook and returns the StelarError
 * the client is told (the caller sends it); null means allowed.
 */
import { ErrorCode, StelarError } from '../protocol/index.js';
import { runHook } from './hooks.js';
import type { ResolvedConfig } from './options.js';
import type { IIPTracker, TransportProtocol } from './types.js';

/** The largest packet a connection may send before it is accepted (its Connect, however it comes). */
export function handshakePacketLimit(config: ResolvedConfig): number {
  return Math.min(config.maxPayloadSize, config.maxHandshakePayloadSize);
}

/** True when `name` is a non-empty string of at most `maxBytes` UTF-8 bytes. */
export function validName(name: unknown, maxBytes: number): name is string {
  if (typeof name !== 'string' || name.length === 0) return false;
  // Each UTF-16 unit is at most 3 UTF-8 bytes: short names skip the byte count.
  return name.length * 3 <= maxBytes || Buffer.byteLength(name) <= maxBytes;
}

export function admitConnection(
  config: ResolvedConfig,
  liveConnections: number,
  tracker: IIPTracker,
  ip: string,
  protocol: TransportProtocol,
): StelarError | null {
  if (liveConnections >= config.maxConnections) {
    runHook(
      config.hooks,
      'onMaxConnectionsReached',
      {
        activeConnections: liveConnections,
        max: config.maxConnections,
        ip,
        protocol,
        reason: 'maxConnections',
      },
      config.logger,
    );
    return new StelarError(ErrorCode.SERVER_FULL, `server is full (${config.maxConnections} connections)`);
  }
  let allowed: boolean;
  try {
    allowed = tracker.check(ip);
  } catch (err) {
    config.logger.error('IP tracker check failed, refusing the connection:', err);
    allowed = false;
  }
  if (!allowed) {
    runHook(
      config.hooks,
      'onMaxConnectionsReached',
      {
        activeConnections: tracker.getCount(ip),
        max: config.maxConnectionsPerIP,
        ip,
        protocol,
        reason: 'maxConnectionsPerIP',
      },
      config.logger,
    );
    return new StelarError(ErrorCode.TOO_MANY_FROM_IP, `too many connections from ${ip}`);
  }
  return null;
}

export interface RoomJoinRequest {
  clientId: string;
  room: string;
  protocol: TransportProtocol;
  /** Rooms the client is in now. */
  currentRooms: number;
  /** Rooms that exist now, and whether this one is among them. */
  totalRooms: number;
  roomExists: boolean;
  metadata: () => Map<string, unknown>;
}

export function checkRoomJoin(config: ResolvedConfig, r: RoomJoinRequest): StelarError | null {
  if (!validName(r.room, config.maxRoomNameLength)) {
    return new StelarError(ErrorCode.INVALID_ROOM, `room name must be a non-empty string of at most ${config.maxRoomNameLength} bytes`);
  }
  if (r.currentRooms >= config.maxRoomsPerClient) {
    runHook(
      config.hooks,
      'onMaxRoomsPerClientReached',
      {
        clientId: r.clientId,
        room: r.room,
        currentRooms: r.currentRooms,
        max: config.maxRoomsPerClient,
      },
      config.logger,
    );
    return new StelarError(ErrorCode.ROOM_LIMIT, `a client may be in at most ${config.maxRoomsPerClient} rooms`);
  }
  if (!r.roomExists && r.totalRooms >= config.maxRooms) {
    runHook(
      config.hooks,
      'onMaxRoomsReached',
      {
        clientId: r.clientId,
        room: r.room,
        totalRooms: r.totalRooms,
        max: config.maxRooms,
      },
      config.logger,
    );
    return new StelarError(ErrorCode.ROOM_LIMIT, `the server has reached its limit of ${config.maxRooms} rooms`);
  }
  if (config.hooks.onClientJoinRoom) {
    const ok = runHook(
      config.hooks,
      'onClientJoinRoom',
      {
        clientId: r.clientId,
        room: r.room,
        metadata: r.metadata(),
        protocol: r.protocol,
      },
      config.logger,
    );
    if (!ok) return new StelarError(ErrorCode.ROOM_REJECTED, `joining room "${r.room}" was refused`);
  }
  return null;
}
