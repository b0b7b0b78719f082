/**
 * The Prometheus text exposition format, version 0.0.4: for each family a `# HELP` and a
 * `# TYPE` line, then one line per series; a histogram writes its buckets cumulatively (the
 * `+Inf` bucket last, equal to `_count`), then `_sum` and `_count`.
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */
import type { AnyFamily, Histogram } from './registry.js';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** HELP text: backslash and line feed escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A label value: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A sample value or bucket bound as the format spells it (`+Inf`, `-Inf`, `NaN`, or a Go-parsable float). */
export function formatValue(n: number): string {
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  if (Number.isNaN(n)) return 'NaN';
  return String(n);
}

/** `{a="x",b="y"}` (empty without labels); `extra` is appended (a histogram's `le`). */
function labelSet(names: readonly string[], values: readonly string[], extra?: string): string {
  const parts: string[] = [];
  for (let i = 0; i < names.length; i++) parts.push(`${names[i]}="${escapeLabelValue(values[i])}"`);
  if (extra !== undefined) parts.push(extra);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function writeHistogram(out: string[], h: Histogram): void {
  const width = h.buckets.length + 1;
  for (let slot = 0; slot < h.size; slot++) {
    const values = h.labelsAt(slot);
    let cumulative = 0;
    for (let i = 0; i < width; i++) {
      cumulative += h.counts[slot * width + i];
      const le = i < h.buckets.length ? formatValue(h.buckets[i]) : '+Inf';
      out.push(`${h.name}_bucket${labelSet(h.labelNames, values, `le="${le}"`)} ${formatValue(cumulative)}`);
    }
    out.push(`${h.name}_sum${labelSet(h.labelNames, values)} ${formatValue(h.sums[slot])}`);
    out.push(`${h.name}_count${labelSet(h.labelNames, values)} ${formatValue(cumulative)}`);
  }
}

/** The whole exposition: every family, in order, ending with a line feed. */
export function exposition(families: readonly AnyFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
    out.push(`# TYPE ${f.name} ${f.type}`);
    if (f.type === 'histogram') {
      writeHistogram(out, f);
      continue;
    }
    for (let slot = 0; slot < f.size; slot++) out.push(`${f.name}${labelSet(f.labelNames, f.labelsAt(slot))} ${formatValue(f.values[slot])}`);
  }
  out.push('');
  return out.join('\n');
}
