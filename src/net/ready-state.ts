/**
 * The states of a connection, numbered as the WebSocket API numbers them. Both transports
 * use this one table, so the layers above need one check for either.
 */
export const ReadyState = {
  CONNECTING: 0,
  OPEN: 1,
  CLOSING: 2,
  CLOSED: 3,
} as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];
