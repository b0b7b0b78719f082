/**
 * The `Sec-WebSocket-Extensions` header (RFC 6455 section 9.1), read and written.
 *
 *   extension-list  = 1#extension
 *   extension       = extension-token *( ";" extension-param )
 *   extension-param = token [ "=" ( token / quoted-string ) ]
 *
 * with optional whitespace around the separators. Read with plain loops over the string (no
 * regular expressions over text a peer controls); anything outside the grammar makes the
 * whole header unreadable (null), which the callers treat as "no usable offer". A quoted value
 * is unescaped and must then be a token (section 9.1).
 *
 * Parameters stay a list, in order and with repeats, so a negotiation can refuse a parameter
 * given twice (RFC 7692 section 7: an offer with a repeated parameter is declined).
 */
import { isToken, isTokenChar } from './handshake.js';

/** One extension of the list: its name and its parameters (`true` for a parameter without value). */
export interface ExtensionOffer {
  readonly name: string;
  readonly params: ReadonlyArray<readonly [name: string, value: string | true]>;
}

const TAB = 0x09;
const SPACE = 0x20;
const QUOTE = 0x22;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;

/** The extensions of a header value, in order; null when the value is not in the grammar. */
export function parseExtensions(header: string): ExtensionOffer[] | null {
  const out: ExtensionOffer[] = [];
  const n = header.length;
  let i = 0;
  const skipSpace = (): void => {
    while (i < n && (header.charCodeAt(i) === SPACE || header.charCodeAt(i) === TAB)) i++;
  };
  /** A token from `i`, or '' when there is none. */
  const token = (): string => {
    const start = i;
    while (i < n && isTokenChar(header.charCodeAt(i))) i++;
    return header.slice(start, i);
  };
  /** A quoted-string from `i` (at its opening quote), unescaped; null when it does not end. */
  const quoted = (): string | null => {
    i++; // the opening quote
    let value = '';
    while (i < n) {
      const c = header.charCodeAt(i);
      if (c === QUOTE) {
        i++;
        return value;
      }
      if (c === BACKSLASH) {
        if (i + 1 >= n) return null;
        value += header[i + 1];
        i += 2;
        continue;
      }
      // qdtext: no controls but horizontal tab
      if ((c < 0x20 && c !== TAB) || c === 0x7f) return null;
      value += header[i];
      i++;
    }
    return null;
  };

  for (;;) {
    skipSpace();
    const name = token();
    if (name === '') return null;
    const params: Array<[string, string | true]> = [];
    skipSpace();
    while (i < n && header.charCodeAt(i) === SEMICOLON) {
      i++;
      skipSpace();
      const param = token();
      if (param === '') return null;
      skipSpace();
      let value: string | true = true;
      if (i < n && header.charCodeAt(i) === EQUALS) {
        i++;
        skipSpace();
        if (i < n && header.charCodeAt(i) === QUOTE) {
          const text = quoted();
          // Section 9.1: after unescaping, a quoted value must still be a token.
          if (text === null || !isToken(text)) return null;
          value = text;
        } else {
          value = token();
          if (value === '') return null;
        }
        skipSpace();
      }
      params.push([param, value]);
    }
    out.push({ name, params });
    if (i === n) return out;
    if (header.charCodeAt(i) !== COMMA) return null;
    i++;
  }
}

/** `name; a; b=1`: one extension as a header element (values are tokens, written as they are). */
export function formatExtension(offer: ExtensionOffer): string {
  let out = offer.name;
  for (const [name, value] of offer.params) out += value === true ? `; ${name}` : `; ${name}=${value}`;
  return out;
}
