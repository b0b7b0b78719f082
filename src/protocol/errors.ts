import { ErrorCode, errorCloseCode } from './codes.js';

/**
 * The one error type the library throws or emits. `code` is stable for programs;
 * `closeCode` is what the peer is told when the error ends the connection (0 = it does not).
 */
export class StelarError extends Error {
  readonly code: ErrorCode;
  readonly closeCode: number;
  constructor(code: ErrorCode, message: string, closeCode: number = errorCloseCode[code]) {
    super(message);
    this.name = 'StelarError';
    this.code = code;
    this.closeCode = closeCode;
  }
}

export function stelarError(code: ErrorCode, message: string, closeCode?: number): StelarError {
  return new StelarError(code, message, closeCode);
}

export function isStelarError(value: unknown): value is StelarError {
  return value instanceof StelarError;
}

/** The error fields of a failed ACK Response or an Error packet: `{ message, code }`. */
export interface ErrorBody {
  message: string;
  code: string;
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));
/** An application's own code (e.g. 'NOT_FOUND' thrown by a handler) is kept when it is a short word. */
const APP_CODE_RE = /^[\w.:-]{1,64}$/;

/**
 * The `{ message, code }` a peer sent (a failed ACK Response's data, an Error packet's), made
 * safe to hand to an application: a string message (or `fallbackMessage`), and the peer's code
 * when it is one of ours or a short word, else `fallbackCode`. Both sides read answers with it.
 */
export function errorBody(data: unknown, fallbackCode: ErrorCode, fallbackMessage: string): ErrorBody {
  const body = (data && typeof data === 'object' ? data : {}) as { message?: unknown; code?: unknown };
  const message = typeof body.message === 'string' ? body.message : typeof data === 'string' ? data : fallbackMessage;
  const code = typeof body.code === 'string' && (KNOWN_CODES.has(body.code) || APP_CODE_RE.test(body.code)) ? body.code : fallbackCode;
  return { message, code };
}

/** `errorBody` as a StelarError that closes nothing (the code may be an application's own). */
export function remoteError(data: unknown, fallbackCode: ErrorCode, fallbackMessage: string): StelarError {
  const { message, code } = errorBody(data, fallbackCode, fallbackMessage);
  return new StelarError(code as ErrorCode, message, 0);
}

/** What a handler threw, as the `{ message, code }` of an error ACK Response (both sides answer so). */
export function thrownBody(err: unknown): ErrorBody {
  const e = err as { message?: unknown; code?: unknown } | null;
  const message = e && typeof e.message === 'string' ? e.message : String(err);
  const code = e && typeof e.code === 'string' ? e.code : ErrorCode.ACK_FAILED;
  return { message, code };
}
