/** Small statistics and formatting helpers shared by the orchestrator and the generators. */

export function median(values) {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/** Nearest-rank percentile over an already sorted numeric array. */
export function percentileSorted(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Merges latency samples (Float64Array or arrays) and returns { count, p50, p99, max } in the same unit. */
export function summarize(samples) {
  let total = 0;
  for (const s of samples) total += s.length;
  const all = new Float64Array(total);
  let o = 0;
  for (const s of samples) {
    all.set(s, o);
    o += s.length;
  }
  all.sort();
  return {
    count: total,
    p50: percentileSorted(all, 50),
    p99: percentileSorted(all, 99),
    max: total ? all[total - 1] : null,
  };
}

export function round(value, digits = 2) {
  if (value === null || value === undefined || !Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Human formatting for the markdown table: thousands separators, fixed digits. */
export function fmt(value, digits = 0) {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return String(value);
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
