/**
 * Where the dashboard's numbers come from, behind one function. Today: `getStats()` (the
 * counters every server keeps) and the dashboard's own ACK latency window. When the server
 * grows histograms of its own (Prometheus metrics), only this file changes.
 */
import type { StelarStats } from '../../contracts/index.js';
import type { AckLatencySummary, AckLatencyWindow } from './ack-latency.js';

/** One reading: totals as the server counts them, and the latency of the period just ended. */
export interface DashboardReading {
  /** ms timestamp of the reading. */
  at: number;
  wsConnections: number;
  tcpConnections: number;
  rooms: number;
  /** Totals since start (the sampler turns them into rates). */
  messagesReceived: number;
  messagesSent: number;
  memoryMB: number;
  uptimeSeconds: number;
  ack: AckLatencySummary;
}

export interface DashboardSourceParts {
  stats(): StelarStats;
  ackLatency: AckLatencyWindow;
}

/** The data source: call it once per sampling period. */
export function createDashboardSource(parts: DashboardSourceParts): () => DashboardReading {
  return () => {
    const s = parts.stats();
    return {
      at: Date.now(),
      wsConnections: s.wsConnections,
      tcpConnections: s.tcpConnections,
      rooms: s.totalRooms,
      messagesReceived: s.totalMessagesReceived,
      messagesSent: s.totalMessagesSent,
      memoryMB: s.memoryMB,
      uptimeSeconds: s.uptimeSeconds,
      ack: parts.ackLatency.take(),
    };
  };
}
