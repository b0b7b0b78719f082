// The Node-side wire format: packets framed for both transports, encoded once for many.
export { allocTcpFrame, encodeFramed, writeTcpPrefix } from './frames.js';
export { type EncodedMessage, eventMessage, eventPacketType, OFFSET_SEPARATOR, recordedAt, tagOffset, WireMessage } from './message.js';
export { MessageRun } from './message-run.js';
