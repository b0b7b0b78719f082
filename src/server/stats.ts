/**
 * Server counters and the `getStats()` snapshot. Counters are plain numbers bumped on the
 * hot path; memory is read only when someone asks. The labelled ones (by transport, packet
 * type, reason...) are arrays laid out as metrics/labels.ts says, which is also how the
 * metrics registry lays out its series: a scrape copies them as they are.
 */
import type { EncodedMessage, StelarStats, TransportProtocol } from '../contracts/index.js';
import { PacketType, TCP_PREFIX_SIZE } from '../protocol/index.js';
import {
  ERROR_CODES,
  errorSlot,
  PACKET_TYPES,
  RATE_LIMIT_SCOPES,
  rateLimitSlot,
  RECOVERY_FAILURES,
  recoveryFailureSlot,
  REFUSAL_REASONS,
  type RefusalReason,
  refusalSlot,
  TRANSPORTS,
  trafficSlot,
  transportIndex,
} from './metrics/labels.js';
import type { Observations } from './metrics/observations.js';
import type { RateLimitScope } from './extension-types.js';

const TRAFFIC_SLOTS = TRANSPORTS.length * PACKET_TYPES.length;

/** Plain counters; every writer goes through a method named for what happened. */
export class StatsCounters {
  totalConnections = 0;
  messagesReceived = 0;
  messagesSent = 0;
  wsConnections = 0;
  tcpConnections = 0;
  startedAt = Date.now();
  /** Accepted clients, by transport. */
  readonly accepted = new Float64Array(TRANSPORTS.length);
  /** Packets (and their bytes, without transport framing) by transport and packet type. */
  readonly packetsIn = new Float64Array(TRAFFIC_SLOTS);
  readonly bytesIn = new Float64Array(TRAFFIC_SLOTS);
  readonly packetsOut = new Float64Array(TRAFFIC_SLOTS);
  readonly bytesOut = new Float64Array(TRAFFIC_SLOTS);
  /** Connections not accepted, by transport and reason. */
  readonly refusals = new Float64Array(TRANSPORTS.length * REFUSAL_REASONS.length);
  /** Messages refused by a rate limit, by transport and scope. */
  readonly rateLimits = new Float64Array(TRANSPORTS.length * RATE_LIMIT_SCOPES.length);
  /** Clients cut for not reading (4006), by transport. */
  readonly slowConsumers = new Float64Array(TRANSPORTS.length);
  /** Errors reported to peers (Error packets, protocol errors), by STELAR_ERR_* code. */
  readonly errors = new Float64Array(ERROR_CODES.length);
  /** Connection-state recovery: sessions restored, the messages replayed to them, and failures by reason. */
  recoveries = 0;
  replayedMessages = 0;
  readonly recoveryFailures = new Float64Array(RECOVERY_FAILURES.length);
  /** The histograms, while metrics are on; null otherwise (each site checks). */
  observe: Observations | null = null;

  started(): void {
    this.startedAt = Date.now();
  }
  received(): void {
    this.messagesReceived++;
  }
  sent(n: number): void {
    this.messagesSent += n;
  }
  clientAccepted(protocol: TransportProtocol): void {
    this.totalConnections++;
    this.accepted[transportIndex(protocol)]++;
    if (protocol === 'ws') this.wsConnections++;
    else this.tcpConnections++;
  }
  clientGone(protocol: TransportProtocol): void {
    if (protocol === 'ws') this.wsConnections--;
    else this.tcpConnections--;
  }
  /** A packet reached the dispatcher (`bytes[0]` is its type). */
  packetIn(protocol: TransportProtocol, bytes: Uint8Array): void {
    const i = trafficSlot(protocol, bytes[0]);
    this.packetsIn[i]++;
    this.bytesIn[i] += bytes.length;
  }
  /** A packet of `size` bytes was written to one client. Every type but Pong counts as a sent message. */
  packetOut(protocol: TransportProtocol, type: number, size: number): void {
    const i = trafficSlot(protocol, type);
    this.packetsOut[i]++;
    this.bytesOut[i] += size;
    if (type !== PacketType.PONG) this.messagesSent++;
  }
  /**
   * Shared bytes (a broadcast, a replay) were written to one client. Not a sent message here:
   * whoever delivered them counts those (`sent`), once per fan-out.
   */
  encodedOut(protocol: TransportProtocol, message: EncodedMessage): void {
    const parts = message.parts;
    if (parts !== undefined) {
      for (let i = 0; i < parts.length; i++) this.encodedOut(protocol, parts[i]!);
      return;
    }
    const frame = message.tcpFrame();
    const i = trafficSlot(protocol, frame[TCP_PREFIX_SIZE]);
    this.packetsOut[i]++;
    this.bytesOut[i] += frame.length - TCP_PREFIX_SIZE;
  }
  refused(protocol: TransportProtocol, reason: RefusalReason): void {
    this.refusals[refusalSlot(protocol, reason)]++;
  }
  rateLimited(protocol: TransportProtocol, scope: RateLimitScope): void {
    this.rateLimits[rateLimitSlot(protocol, scope)]++;
  }
  slowConsumer(protocol: TransportProtocol): void {
    this.slowConsumers[transportIndex(protocol)]++;
  }
  error(code: string): void {
    this.errors[errorSlot(code)]++;
  }
  /** A client that asked to resume was restored (`replayed` messages sent), or not, and why. */
  recoveryOutcome(restored: boolean, reason: string | undefined, replayed: number): void {
    if (restored) {
      this.recoveries++;
      this.replayedMessages += replayed;
    } else if (reason !== undefined) {
      const i = recoveryFailureSlot(reason);
      if (i >= 0) this.recoveryFailures[i]++;
    }
  }
}

export interface StatsSources {
  activeConnections: number;
  totalRooms: number;
  rateLimiterEntries: number;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

export function snapshotStats(c: StatsCounters, s: StatsSources): StelarStats {
  const mem = process.memoryUsage();
  const uptime = Date.now() - c.startedAt;
  return {
    totalConnections: c.totalConnections,
    activeConnections: s.activeConnections,
    totalMessagesReceived: c.messagesReceived,
    totalMessagesSent: c.messagesSent,
    totalRooms: s.totalRooms,
    uptime,
    uptimeSeconds: Math.floor(uptime / 1000),
    wsConnections: c.wsConnections,
    tcpConnections: c.tcpConnections,
    memoryMB: round2(mem.heapUsed / (1024 * 1024)),
    memoryUsage: { heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, rss: mem.rss, external: mem.external },
    rateLimiterEntries: s.rateLimiterEntries,
  };
}
