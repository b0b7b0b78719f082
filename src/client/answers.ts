/**
 * The client's side of server -> client requests (`server.request()`, `ctx.request()` on the
 * server): an ACK Request from the server runs the `onRequest(name)` handler registered for
 * its ack name, and exactly one ACK Response goes back with the request's ackId:
 *
 * - the handler's return value (or what its promise resolves to), status 0;
 * - a throw or rejection: status 1, `{ message, code }` (the error's string `code`, else
 *   STELAR_ERR_ACK_FAILED), as the server answers a client's request;
 * - no handler for that name: status 1, STELAR_ERR_NO_ACK_HANDLER (docs/PROTOCOL.md);
 * - an answer that cannot be encoded, or is larger than the server accepts: status 1,
 *   STELAR_ERR_ACK_FAILED or STELAR_ERR_PAYLOAD_TOO_LARGE, so the server's caller settles now;
 * - more than MAX_UNANSWERED requests still being handled: status 1, STELAR_ERR_REQUEST_LIMIT
 *   (a server cannot make the client hold an unbounded number of pending handlers).
 *
 * An answer goes out only on the connection its request came on: after a reconnection the
 * server's request has failed already (it fails its requests when a connection ends), and an
 * id from the old connection could name a different request on the new one.
 */
import { ErrorCode, type Packet, PacketType, thrownBody } from '../protocol/index.js';
import type { ClientContext } from './context.js';
import type { ClientTransport } from './transport.js';
import { encodeLaidOut } from './transport.js';

/** Requests from the server being handled at once, at most; past it they are refused. */
export const MAX_UNANSWERED = 1000;

/** What answering needs from the session. */
export interface AnswerLink {
  /** Changes with every connection attempt. */
  readonly generation: number;
  /** The transport of connection `generation`, if it is still the current one. */
  transportFor(generation: number): ClientTransport | null;
  /** The server's `maxPayloadSize` from its Connect, when it sent one. */
  readonly serverMaxPayload: number | undefined;
}

export class Answers {
  readonly #ctx: ClientContext;
  readonly #link: AnswerLink;
  #unanswered = 0;
  #sent = 0;

  constructor(ctx: ClientContext, link: AnswerLink) {
    this.#ctx = ctx;
    this.#link = link;
  }

  /** ACK Responses sent to the server's requests. */
  get sent(): number {
    return this.#sent;
  }

  /** An ACK Request from the server: run its handler, answer once. */
  onRequest(packet: Packet): void {
    const ackId = packet.ackId ?? 0;
    const name = packet.ackName ?? packet.event;
    const generation = this.#link.generation;
    const handler = this.#ctx.listeners.requestHandler(name);
    if (!handler) return this.#send(generation, ackId, name, false, { message: `no handler for "${name}"`, code: ErrorCode.NO_ACK_HANDLER });
    if (this.#unanswered >= MAX_UNANSWERED) {
      return this.#send(generation, ackId, name, false, { message: `${MAX_UNANSWERED} requests are being handled already`, code: ErrorCode.REQUEST_LIMIT });
    }
    let result: unknown;
    try {
      result = handler(packet.data, { event: packet.event, name, ackId });
    } catch (err) {
      return this.#send(generation, ackId, name, false, thrownBody(err));
    }
    if (!(result instanceof Promise)) return this.#send(generation, ackId, name, true, result);
    this.#unanswered++;
    result.then(
      (value: unknown) => {
        this.#unanswered--;
        this.#send(generation, ackId, name, true, value);
      },
      (err: unknown) => {
        this.#unanswered--;
        this.#send(generation, ackId, name, false, thrownBody(err));
      },
    );
  }

  #send(generation: number, ackId: number, name: string, ok: boolean, data: unknown): void {
    const transport = this.#link.transportFor(generation);
    if (!transport) {
      this.#ctx.logger.debug(`answer to the server's request "${name}" (id ${ackId}) dropped: its connection is gone`);
      return;
    }
    const layout = transport.layout;
    let bytes: Uint8Array;
    try {
      bytes = encodeLaidOut({ type: PacketType.ACK_RESPONSE, event: name, ackId, ok, data }, layout);
    } catch (err) {
      // Circular, BigInt...: the server still gets an answer, so its caller does not wait for a timeout.
      this.#ctx.report(err, 'handler');
      return this.#send(generation, ackId, name, false, { message: 'the answer could not be encoded', code: ErrorCode.ACK_FAILED });
    }
    const limit = Math.min(this.#ctx.options.maxPayloadSize, this.#link.serverMaxPayload ?? Infinity);
    const size = bytes.length - layout.prefix - layout.room;
    if (size > limit) {
      const message = `the answer to "${name}" is ${size} bytes encoded, above the ${limit}-byte limit`;
      return this.#send(generation, ackId, name, false, { message, code: ErrorCode.PAYLOAD_TOO_LARGE });
    }
    transport.sendPacketBytes(bytes);
    this.#sent++;
  }
}
