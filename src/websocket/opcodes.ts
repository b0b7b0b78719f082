/**
 * RFC 6455 section 5.2 opcodes. 0x3-0x7 and 0xB-0xF are reserved: a frame that uses one
 * is a protocol error (1002), since no extension that defines them is ever negotiated.
 */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/**
 * The first header byte's RSV1 bit, ORed into an opcode given to the frame builders: the
 * message is compressed (RFC 7692 section 6, permessage-deflate; only on a message's first frame).
 */
export const RSV1 = 0x40;

/** Control frames have the high bit of the 4-bit opcode set (section 5.5). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

export function isKnownOpcode(opcode: number): opcode is Opcode {
  return opcode <= Opcode.BINARY || (opcode >= Opcode.CLOSE && opcode <= Opcode.PONG);
}

/** The RFC 6455 magic string appended to Sec-WebSocket-Key before hashing (section 1.3). */
export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Control frame payloads are at most 125 bytes (section 5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

// One table for both transports (src/net/ready-state.ts); exported here as part of the WebSocket API.
export { ReadyState } from '../net/ready-state.js';
