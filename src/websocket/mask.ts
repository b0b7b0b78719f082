/**
 * Masking (RFC 6455 section 5.3), in place: XOR with the 4-byte key read as one big-endian
 * int. The same operation masks (client sender) and unmasks (receiver). `start`: where the
 * masked bytes begin (a client frame masks its payload in place, behind its header).
 */
export function applyMask(data: Uint8Array, key: number, start = 0): void {
  const m0 = (key >>> 24) & 0xff;
  const m1 = (key >>> 16) & 0xff;
  const m2 = (key >>> 8) & 0xff;
  const m3 = key & 0xff;
  const length = data.length;
  const whole = start + ((length - start) & ~3);
  let i = start;
  for (; i < whole; i += 4) {
    data[i] = data[i]! ^ m0;
    data[i + 1] = data[i + 1]! ^ m1;
    data[i + 2] = data[i + 2]! ^ m2;
    data[i + 3] = data[i + 3]! ^ m3;
  }
  // At most 3 bytes left, and i - start is a multiple of 4 here.
  if (i < length) data[i] = data[i]! ^ m0;
  if (i + 1 < length) data[i + 1] = data[i + 1]! ^ m1;
  if (i + 2 < length) data[i + 2] = data[i + 2]! ^ m2;
}

/** The masking key as seen from payload offset `offset` (the key rotated by offset mod 4 bytes). */
export function maskAt(key: number, offset: number): number {
  const shift = (offset & 3) * 8;
  return shift === 0 ? key : (key << shift) | (key >>> (32 - shift));
}
