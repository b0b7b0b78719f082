/**
 * Where the application's listeners live: `on`/`once`/`off` per event, `onAll`, `onAck` per
 * ack name and `onRequest` (one handler per ack name), plus the dispatch of server messages
 * to them. A listener that throws is
 * reported through `report` and never stops the others (or the socket's packet loop).
 */
import type { PresenceChange, PresenceData, StelarError } from '../protocol/index.js';
import { Emitter, type ListenerErrorHandler } from './emitter.js';

export interface DisconnectInfo {
  code: number;
  reason: string;
}

/** The `connect` event's argument. */
export interface ConnectInfo {
  /** True when the server resumed the previous session (connection-state recovery). */
  recovered: boolean;
}

/**
 * What an `error` listener (and `getLastError()`) gets: a `StelarError` for the library's own
 * errors (a refusal or Error packet from the server, a timeout, a protocol fault), otherwise the
 * Error as it was raised: a Node socket error (its `code` a string such as 'ECONNREFUSED') or
 * what a listener threw. Narrow with `isStelarError(err)` to read `err.code` as an `ErrorCode`.
 */
export type ClientError = StelarError | (Error & { code?: unknown });

/**
 * Events the client itself emits; server events with these names reach only `onAll`.
 * `P`: the metadata fields the server's presence shows (its `presence.fields` option).
 */
export interface ClientReservedEvents<P extends object = PresenceData> {
  connect: (info: ConnectInfo) => void;
  disconnect: (info: DisconnectInfo) => void;
  reconnecting: (attempt: number) => void;
  reconnect_failed: () => void;
  error: (error: ClientError) => void;
  /** The server confirmed a join (the echo of Join Room). */
  room_joined: (room: string) => void;
  /** The server confirmed a leave, or removed this client from a room. */
  room_left: (room: string) => void;
  /** The client asked to resume its session and the server could not: this is a new session. */
  recovery_failed: (info: { reason: string }) => void;
  /** Someone joined a room this client is in (only in rooms where the server announces it). */
  presence_join: (change: PresenceChange<P>) => void;
  /** Someone left a room this client is in (only in rooms where the server announces it). */
  presence_leave: (change: PresenceChange<P>) => void;
  /**
   * After `emit` answered false (the connection's backlog reached its high-water mark, or the
   * message was queued offline): the backlog is written out and the client is connected, so
   * sending may go on. Called with no argument; typed so that a promise's `resolve` fits too,
   * as in `await new Promise((resolve) => client.once('drain', resolve))`.
   */
  drain: (value?: undefined) => void;
}
export const RESERVED_EVENTS: ReadonlySet<string> = new Set<keyof ClientReservedEvents>([
  'connect',
  'disconnect',
  'reconnecting',
  'reconnect_failed',
  'error',
  'room_joined',
  'room_left',
  'recovery_failed',
  'presence_join',
  'presence_leave',
  'drain',
]);

export interface AckInfo {
  ok: boolean;
  /** 0 for an answer nobody asked for (e.g. `ctx.ack()` in server middleware). */
  ackId: number;
  name: string;
}
export type AckListener = (data: any, info: AckInfo) => void;

/** What an `onRequest` handler gets besides the data. */
export interface ServerRequestInfo {
  /** The event the server sent the request under. */
  event: string;
  /** The ack name, which chose this handler (the event name unless the server chose another). */
  name: string;
  /** The server's id for this request (the ACK Response carries it back). */
  ackId: number;
}
/** Answers a server's request (answers.ts): the return value (or awaited value) is the answer; a throw fails it. */
export type RequestHandler = (data: any, info: ServerRequestInfo) => unknown;
export type AnyListener = (event: string, data: any) => void;

export class ListenerRegistry {
  readonly events: Emitter;
  #any: AnyListener[] = [];
  #acks = new Map<string, AckListener[]>();
  #requests = new Map<string, RequestHandler>();
  #report: (error: unknown) => void;

  constructor(onListenerError: ListenerErrorHandler, report: (error: unknown) => void) {
    this.events = new Emitter(onListenerError);
    this.#report = report;
  }

  addAny(fn: AnyListener): void {
    if (typeof fn !== 'function') throw new TypeError('onAll handler must be a function');
    this.#any.push(fn);
  }

  removeAny(fn?: AnyListener): void {
    this.#any = fn ? this.#any.filter((f) => f !== fn) : [];
  }

  addAck(name: string, fn: AckListener): void {
    if (typeof fn !== 'function') throw new TypeError('onAck handler must be a function');
    const list = this.#acks.get(name);
    if (list) list.push(fn);
    else this.#acks.set(name, [fn]);
  }

  removeAck(name: string, fn?: AckListener): void {
    const list = this.#acks.get(name);
    if (!list) return;
    const rest = fn ? list.filter((f) => f !== fn) : [];
    if (rest.length) this.#acks.set(name, rest);
    else this.#acks.delete(name);
  }

  /** One handler per ack name answers the server's requests; a second one replaces the first. */
  setRequest(name: string, fn: RequestHandler): void {
    if (typeof name !== 'string' || name === '') throw new TypeError('request name must be a non-empty string');
    if (typeof fn !== 'function') throw new TypeError('onRequest handler must be a function');
    this.#requests.set(name, fn);
  }

  removeRequest(name: string): void {
    this.#requests.delete(name);
  }

  requestHandler(name: string): RequestHandler | undefined {
    return this.#requests.get(name);
  }

  /** Without an event: everything, `onAll`, `onAck` and `onRequest` handlers included. */
  clear(event?: string): void {
    this.events.removeAllListeners(event);
    if (event !== undefined) return;
    this.#any = [];
    this.#acks.clear();
    this.#requests.clear();
  }

  /** A server event: its own listeners (unless the name is one of the client's), then `onAll`. */
  dispatchEvent(event: string, data: unknown): void {
    // Server events named like ours would impersonate the client's own: they go to onAll only.
    if (!RESERVED_EVENTS.has(event)) this.events.emit(event, data);
    for (const fn of this.#any.slice()) this.#call(() => fn(event, data));
  }

  /** An ACK Response to the `onAck(name)` listeners; false when there are none. */
  dispatchAck(data: unknown, info: AckInfo): boolean {
    const list = this.#acks.get(info.name);
    if (!list) return false;
    for (const fn of list.slice()) this.#call(() => fn(data, info));
    return true;
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#report(err);
    }
  }
}
