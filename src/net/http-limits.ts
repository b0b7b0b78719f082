/**
 * Limits for an HTTP server exposed to anyone: a bounded request head and a bounded time for
 * it (an upgrade included) to arrive. Node must also look often enough for overdue requests,
 * or a head trickled one byte at a time would live until its 30 s default check. Used by
 * every HTTP server this package creates (the standalone WebSocket server, StelarServer).
 */
export interface BoundedHttpOptions {
  maxHeaderSize: number;
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
}

/** Node's http.createServer options for a head of at most `maxHeaderSize` bytes within `timeoutMs`. */
export function boundedHttpOptions(timeoutMs: number, maxHeaderSize: number): BoundedHttpOptions {
  return {
    maxHeaderSize,
    headersTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    // Node only looks for expired requests on this interval; keep it a fraction of the timeout.
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(timeoutMs / 4))),
  };
}
