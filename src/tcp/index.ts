/** The length-prefixed binary transport: frame parser, connection wrapper, client connect. */
export { DEFAULT_MAX_FRAME_SIZE, MIN_FRAME_SIZE, TcpFrameParser, type TcpFrameParserOptions } from './frame-parser.js';
export { TcpConnection, type TcpConnectionOptions, TcpReadyState } from './connection.js';
export { connectTcp, type ConnectTcpOptions } from './connect.js';
