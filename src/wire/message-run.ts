/**
 * Several broadcasts to the same recipients, written as one: the frames of the messages
 * joined once per transport, and the result handed to every recipient as a single write.
 *
 * A room that gets ten broadcasts in one tick would otherwise cost each member ten sends
 * (ten state checks, ten queue pushes) before the batcher joins them again per socket. The
 * run keeps the per-recipient work at one send per tick, which is what a delivery costs in
 * uWebSockets.js's topic drain. Frames are opaque bytes to the transports, so the joined
 * frames are exactly the bytes the separate writes would have sent.
 *
 * Only the transports read a run (`wsFrame`, `tcpFrame`): it is never published to other
 * nodes nor recorded, so it has no single packet.
 */
import type { Packet } from '../protocol/index.js';
import type { Compressor } from '../websocket/index.js';
import type { EncodedMessage } from './message.js';

export class MessageRun implements EncodedMessage {
  readonly parts: readonly EncodedMessage[];
  #ws: Buffer | null = null;
  #tcp: Buffer | null = null;

  /** `messages`: at least two unrecorded messages (no offset), in sending order. */
  constructor(messages: readonly EncodedMessage[]) {
    this.parts = messages;
  }

  get packet(): Packet {
    throw new TypeError('a message run holds several packets');
  }

  get bytes(): Uint8Array {
    throw new TypeError('a message run holds several packets');
  }

  wsFrame(): Buffer {
    return (this.#ws ??= Buffer.concat(this.parts.map((m) => m.wsFrame())));
  }

  /**
   * Each message's compressed frame, joined. Connections with permessage-deflate take the
   * parts one by one instead (the transport's `sendEncoded`), so that each message is
   * compressed or not by the connection's own threshold; this exists for the interface.
   */
  wsCompressedFrame(compressor: Compressor): Buffer {
    return Buffer.concat(this.parts.map((m) => m.wsCompressedFrame(compressor)));
  }

  tcpFrame(): Uint8Array {
    return (this.#tcp ??= Buffer.concat(this.parts.map((m) => m.tcpFrame())));
  }
}
