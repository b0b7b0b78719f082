// The seeded generator every fuzz suite uses, so a failure replays with the seed it prints:
//   FUZZ_SEED=<seed> node scripts/run-tests.mjs test/<area>/fuzz

/** xorshift32: tiny, deterministic, good enough to pick bytes and branches. */
export function fuzzRng(name) {
  const seed = (Number(process.env.FUZZ_SEED) || Date.now() ^ (process.pid << 8)) >>> 0 || 1;
  console.log(`${name} fuzz seed ${seed} (rerun with FUZZ_SEED=${seed})`);
  let x = seed;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  const int = (n) => next() % n; // 0..n-1
  return {
    seed,
    next,
    int,
    pick: (arr) => arr[int(arr.length)],
    bytes: (n) => {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = next() & 0xff;
      return b;
    },
    chance: (p) => next() / 0x100000000 < p,
  };
}
