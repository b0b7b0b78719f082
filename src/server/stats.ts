/**
 * Server counters and the `getStats()` snapshot. Counters are plain numbers bumped on the
 * hot path; memory is read only when someone asks.
 */
import type { StelarStats, TransportProtocol } from '../contracts/index.js';

/** Plain counters; every writer goes through a method named for what happened. */
export class StatsCounters {
  totalConnections = 0;
  messagesReceived = 0;
  messagesSent = 0;
  wsConnections = 0;
  tcpConnections = 0;
  startedAt = Date.now();

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
    if (protocol === 'ws') this.wsConnections++;
    else this.tcpConnections++;
  }
  clientGone(protocol: TransportProtocol): void {
    if (protocol === 'ws') this.wsConnections--;
    else this.tcpConnections--;
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
