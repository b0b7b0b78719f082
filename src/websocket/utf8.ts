/**
 * Incremental UTF-8 validation for text messages that arrive in fragments.
 *
 * A fragment may end in the middle of a code point, so whole-buffer checks
 * (`buffer.isUtf8`) cannot be used on fragments directly. This validator keeps the
 * state of one unfinished sequence between calls: the bulk of each fragment still goes
 * through the native `isUtf8`, and only the few bytes around fragment boundaries are
 * walked here in JS. Invalid input is reported as soon as the offending byte is seen,
 * so a bad message is refused before the rest of it arrives.
 *
 * The rules are those of RFC 3629 (section 4): no overlong forms (C0, C1, E0 80-9F,
 * F0 80-8F), no UTF-16 surrogates (ED A0-BF), nothing above U+10FFFF (F4 90+, F5-FF).
 */
import { isUtf8 } from 'node:buffer';

export class Utf8Validator {
  /** Continuation bytes still expected for the current sequence. */
  #need = 0;
  /** Allowed range of the next continuation byte (narrowed after E0, ED, F0, F4). */
  #lo = 0x80;
  #hi = 0xbf;

  /** Feeds the next piece of the text; false as soon as it cannot be valid UTF-8. */
  write(bytes: Uint8Array): boolean {
    const length = bytes.length;
    let i = 0;
    // Finish a sequence that the previous piece left open.
    while (this.#need > 0 && i < length) {
      if (!this.#step(bytes[i++]!)) return false;
    }
    if (i === length) return true;

    // Find where a trailing incomplete sequence starts (at most 3 bytes back).
    let end = length;
    const stop = Math.max(i, length - 3);
    for (let k = length - 1; k >= stop; k--) {
      const b = bytes[k]!;
      if (b < 0x80) break;
      if (b >= 0xc0) {
        const size = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
        if (k + size > length) end = k;
        break;
      }
    }
    if (end > i && !isUtf8(bytes.subarray(i, end))) return false;
    for (let k = end; k < length; k++) {
      if (!this.#step(bytes[k]!)) return false;
    }
    return true;
  }

  /** True when the text ended on a code point boundary; resets for the next message. */
  end(): boolean {
    const complete = this.#need === 0;
    this.reset();
    return complete;
  }

  reset(): void {
    this.#need = 0;
    this.#lo = 0x80;
    this.#hi = 0xbf;
  }

  #step(b: number): boolean {
    if (this.#need > 0) {
      if (b < this.#lo || b > this.#hi) return false;
      this.#lo = 0x80;
      this.#hi = 0xbf;
      this.#need--;
      return true;
    }
    if (b < 0x80) return true;
    if (b < 0xc2) return false; // stray continuation byte or overlong 2-byte lead
    if (b < 0xe0) {
      this.#need = 1;
      return true;
    }
    if (b < 0xf0) {
      this.#need = 2;
      if (b === 0xe0)
        this.#lo = 0xa0; // overlong 3-byte form
      else if (b === 0xed) this.#hi = 0x9f; // U+D800-U+DFFF surrogates
      return true;
    }
    if (b < 0xf5) {
      this.#need = 3;
      if (b === 0xf0)
        this.#lo = 0x90; // overlong 4-byte form
      else if (b === 0xf4) this.#hi = 0x8f; // above U+10FFFF
      return true;
    }
    return false;
  }
}

/** Whole-buffer check (a text message that arrived in one frame, a close reason). */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return bytes.length === 0 || isUtf8(bytes);
}
