// `stelar-time-real/websocket`: RFC 6455 in both roles, Node built-ins only.
export * from './opcodes.js';
export * from './close-codes.js';
export { Utf8Validator, isValidUtf8 } from './utf8.js';
export * from './receiver.js';
export * from './sender.js';
export { acceptKey, checkUpgradeRequest, switchingProtocols, abortHandshake, type HandshakeCheck } from './handshake.js';
export * from './connection.js';
export * from './server.js';
export * from './client.js';
