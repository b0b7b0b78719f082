import { type ErrorCode, errorCloseCode } from './codes.js';

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
