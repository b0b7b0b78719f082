/**
 * Plain-data shapes that cross the server/adapter seam: what a node reports about itself
 * (`getStats()`), one row per client (`getClients()`), and the cluster-wide sums a cluster
 * adapter gathers from every node.
 */

export type TransportProtocol = 'ws' | 'tcp';

export interface StelarStats {
  totalConnections: number;
  activeConnections: number;
  totalMessagesReceived: number;
  totalMessagesSent: number;
  totalRooms: number;
  uptime: number;
  uptimeSeconds: number;
  wsConnections: number;
  tcpConnections: number;
  memoryMB: number;
  memoryUsage: { heapUsed: number; heapTotal: number; rss: number; external: number };
  rateLimiterEntries: number;
}

/** One row of `getClients()`: plain data, safe to serialise. */
export interface ClientSummary {
  id: string;
  protocol: TransportProtocol;
  remoteAddress: string;
  rooms: string[];
  metadata: Record<string, unknown>;
  connectedAt: number;
}

/** One node's part of a cluster-wide `fetchStats`. */
export interface NodeStats extends StelarStats {
  nodeId: string;
}

/** `getClusterStats()`: every live node's stats and their sums. */
export interface ClusterStats {
  nodes: NodeStats[];
  activeConnections: number;
  totalConnections: number;
  wsConnections: number;
  tcpConnections: number;
  totalMessagesReceived: number;
  totalMessagesSent: number;
  /** Distinct rooms across the cluster. */
  totalRooms: number;
  /** Set by a cluster adapter: true when a live node did not answer (its stats are missing). */
  incomplete?: boolean;
  /** Set by a cluster adapter: the nodes that did not answer. */
  missingNodes?: string[];
}
