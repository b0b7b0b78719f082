/**
 * Server counters and the `getStats()` snapshot. Counters are plain numbers bumped on the
 * hot path; memory is read only when someone asks.
 */
import type { StelarStats } from './types.js';

export class StatsCounters {
  totalConnections = 0;
  messagesReceived = 0;
  messagesSent = 0;
  wsConnections = 0;
  tcpConnections = 0;
  startedAt = Date.now();
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
