import { CloseCode } from '../protocol/codes.js';

/**
 * Which close status codes may appear in a close frame on the wire (RFC 6455 section 7.4
 * and the IANA "WebSocket Close Code Number Registry").
 *
 *  - 1000-1003 and 1007-1014 are registered for use in frames.
 *  - 1004 is reserved, 1005/1006/1015 are reserved for APIs ("no code", "abnormal",
 *    "TLS failure") and MUST NOT be sent.
 *  - 1016-2999 are reserved for future protocol revisions: nobody may send them yet.
 *  - 3000-3999 are registered by libraries/frameworks, 4000-4999 are private use.
 *  - below 1000 and 5000 and above are not valid codes at all.
 */
export function isValidWireCloseCode(code: number): boolean {
  return Number.isInteger(code) && ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999));
}

/** A close reason is at most 123 bytes: 125 (control payload limit) minus the 2-byte code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/** What the API reports when a close frame carried no code (section 7.1.5); the catalogue's value. */
export const NO_STATUS_CODE: number = CloseCode.NO_STATUS;
/** What the API reports when the connection died without a close frame (section 7.1.5). */
export const ABNORMAL_CLOSE_CODE: number = CloseCode.ABNORMAL;
