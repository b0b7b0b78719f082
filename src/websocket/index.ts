// `stelar-time-real/websocket`: RFC 6455 in both roles, Node built-ins only.
export * from './opcodes.js';
export * from './close-codes.js';
export { Utf8Validator, isValidUtf8 } from './utf8.js';
export * from './receiver.js';
export * from './sender.js';
export { acceptKey, checkUpgradeRequest, switchingProtocols, abortHandshake, type HandshakeCheck } from './handshake.js';
export * from './connection.js';
export { compressedFrame, DeflateSender, type DeflateSenderHost, type NegotiatedDeflate, type SharedMessage } from './deflate-sender.js';
export * from './server.js';
export * from './client.js';
export { Compressor, type InflateResult, MessageDeflate, DeflateContext, SYNC_DEFLATE_LIMIT, SYNC_INFLATE_LIMIT } from './deflate-codec.js';
export {
  acceptDeflateOffer,
  checkDeflateAnswer,
  deflateOffer,
  resolveDeflateOptions,
  CLIENT_DEFLATE_DEFAULTS,
  DEFLATE_DEFAULTS,
  PERMESSAGE_DEFLATE,
  type AcceptedDeflate,
  type DeflateParams,
  type PerMessageDeflateOptions,
  type ResolvedDeflateOptions,
} from './deflate-negotiation.js';
export { parseExtensions, formatExtension, type ExtensionOffer } from './extension-header.js';
export { ZlibLimiter, DEFAULT_ZLIB_CONCURRENCY } from './zlib-limiter.js';
