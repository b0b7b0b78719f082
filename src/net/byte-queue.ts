/**
 * Received bytes waiting to be parsed, shared by the WebSocket receiver and the TCP frame
 * parser: a list of chunks read from the front exactly `n` bytes at a time, so either parser
 * can be fed any chunking. Bytes held in one chunk come out as zero-copy views; headers are
 * read in place.
 */

/**
 * The chunk list while nothing is buffered: shared and never written to. An emptied list
 * keeps its grown backing store (~150 bytes), which every idle connection would hold.
 */
const NO_CHUNKS: readonly Buffer[] = Object.freeze([]);
/** Small chunks are merged so a byte-at-a-time peer cannot make us hold millions of Buffer objects. */
const SMALL_CHUNK = 512;
const MERGE_LIMIT = 8192;

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** What a zero-byte take returns (nothing buffered is needed for it). */
const EMPTY: Buffer = Buffer.alloc(0);

export class ByteQueue {
  #chunks: Buffer[] = NO_CHUNKS as Buffer[];
  #length = 0;
  /** Bytes of the first chunk already consumed. */
  #offset = 0;

  /** Bytes received and not yet taken. */
  get length(): number {
    return this.#length;
  }

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    const buf = asBuffer(chunk);
    const chunks = this.#chunks;
    const last = chunks.length - 1;
    if (last < 0) this.#chunks = [buf];
    else if (buf.length < SMALL_CHUNK && chunks[last]!.length < MERGE_LIMIT) chunks[last] = Buffer.concat([chunks[last]!, buf]);
    else chunks.push(buf);
    this.#length += buf.length;
  }

  /** Reads a 2-byte unsigned big-endian number (the caller checked `length >= 2`). */
  readUInt16BE(): number {
    const first = this.#chunks[0]!;
    const offset = this.#offset;
    if (first.length - offset < 2) return this.take(2).readUInt16BE(0);
    this.#advance(first, offset + 2, 2);
    return first.readUInt16BE(offset);
  }

  /** Reads a 4-byte big-endian number, unsigned or signed (the caller checked `length >= 4`). */
  readUInt32BE(): number {
    const first = this.#chunks[0]!;
    const offset = this.#offset;
    if (first.length - offset < 4) return this.take(4).readUInt32BE(0);
    this.#advance(first, offset + 4, 4);
    return first.readUInt32BE(offset);
  }

  readInt32BE(): number {
    return this.readUInt32BE() | 0;
  }

  /** Takes exactly `n` bytes (the caller checked `length >= n`): a view when one chunk holds them, else one copy. */
  take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.#chunks[0]!;
    const start = this.#offset;
    if (n <= first.length - start) {
      const out = start === 0 && n === first.length ? first : first.subarray(start, start + n);
      this.#advance(first, start + n, n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0]!;
      const from = this.#offset;
      const take = Math.min(chunk.length - from, n - filled);
      chunk.copy(out, filled, from, from + take);
      filled += take;
      this.#advance(chunk, from + take, take);
    }
    return out;
  }

  /**
   * Views of the queued bytes `from` to `to` (counted from the read position), without taking
   * them: one per chunk they span. Writing through a view changes what `take` returns later.
   */
  peek(from: number, to: number): Buffer[] {
    const out: Buffer[] = [];
    let skip = this.#offset + from;
    let want = to - from;
    for (const chunk of this.#chunks) {
      if (want <= 0) break;
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      const end = Math.min(chunk.length, skip + want);
      out.push(chunk.subarray(skip, end));
      want -= end - skip;
      skip = 0;
    }
    return out;
  }

  /** Lets an emptied queue drop its grown chunk list (call after a parsing pass). */
  release(): void {
    if (this.#length === 0) this.clear();
  }

  clear(): void {
    this.#chunks = NO_CHUNKS as Buffer[];
    this.#offset = 0;
    this.#length = 0;
  }

  /** Moves the read position in the first chunk to `offset`, dropping the chunk once used up. */
  #advance(first: Buffer, offset: number, consumed: number): void {
    this.#length -= consumed;
    if (offset === first.length) {
      this.#chunks.shift();
      this.#offset = 0;
    } else {
      this.#offset = offset;
    }
  }
}
