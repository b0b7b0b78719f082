/**
 * A small metrics registry for the Prometheus text format: counters, gauges and histograms
 * whose label values are all declared up front. A family has one series per combination of
 * its declared values and no other series can be made, so the size of a scrape is fixed
 * when the server is built and nothing a client sends can grow it (no event or room names).
 *
 * Values live in one Float64Array per family, a slot per label combination (mixed radix over
 * the declared values, the first label most significant; `slot()` computes it). The hot paths
 * never call into a family: the server bumps its own plain counters, laid out the same way,
 * and a collector copies them in at scrape time. Only histograms are observed directly, and
 * only while metrics are on.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Label name -> its allowed values, in the order they are exposed. */
export type LabelValues = Readonly<Record<string, readonly string[]>>;

export interface FamilySpec {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*`; counters end in `_total` (the registry does not add it). */
  readonly name: string;
  readonly help: string;
  readonly labels?: LabelValues;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** What every family shares: its name, help, and the declared label values. */
export abstract class Family {
  readonly name: string;
  readonly help: string;
  abstract readonly type: MetricType;
  readonly labelNames: readonly string[];
  readonly labelValues: readonly (readonly string[])[];
  /** Number of series (label combinations); 1 without labels. */
  readonly size: number;

  constructor(spec: FamilySpec, reserved: readonly string[] = []) {
    if (!METRIC_NAME.test(spec.name)) throw new TypeError(`invalid metric name "${spec.name}"`);
    const labels = spec.labels ?? {};
    this.name = spec.name;
    this.help = spec.help;
    this.labelNames = Object.keys(labels);
    this.labelValues = Object.values(labels);
    let size = 1;
    for (const [label, values] of Object.entries(labels)) {
      if (!LABEL_NAME.test(label) || label.startsWith('__') || reserved.includes(label)) {
        throw new TypeError(`${spec.name}: invalid label name "${label}"`);
      }
      if (values.length === 0 || new Set(values).size !== values.length) {
        throw new TypeError(`${spec.name}: label "${label}" needs distinct values`);
      }
      size *= values.length;
    }
    this.size = size;
  }

  /** The slot of one label combination; throws on a label or value that was not declared. */
  slot(labels: Readonly<Record<string, string>> = {}): number {
    let slot = 0;
    for (let i = 0; i < this.labelNames.length; i++) {
      const name = this.labelNames[i];
      const j = this.labelValues[i].indexOf(labels[name] ?? '');
      if (j < 0) throw new RangeError(`${this.name}: ${name}="${String(labels[name])}" was not declared`);
      slot = slot * this.labelValues[i].length + j;
    }
    if (Object.keys(labels).length !== this.labelNames.length) throw new RangeError(`${this.name}: expected labels ${this.labelNames.join(', ')}`);
    return slot;
  }

  /** The label values of a slot, in `labelNames` order. */
  labelsAt(slot: number): string[] {
    const out = new Array<string>(this.labelNames.length);
    for (let i = this.labelNames.length - 1; i >= 0; i--) {
      const values = this.labelValues[i];
      out[i] = values[slot % values.length];
      slot = Math.floor(slot / values.length);
    }
    return out;
  }
}

/** A counter or a gauge: one number per series. */
abstract class ScalarFamily extends Family {
  readonly values: Float64Array;

  constructor(spec: FamilySpec) {
    super(spec);
    this.values = new Float64Array(this.size);
  }

  /** Sets one series (a collector copying a plain counter in). */
  set(slot: number, value: number): void {
    this.values[slot] = value;
  }

  /** Copies a whole plain-counter array laid out like this family's slots. */
  copy(from: ArrayLike<number>): void {
    if (from.length !== this.size) throw new RangeError(`${this.name}: ${from.length} values for ${this.size} series`);
    for (let i = 0; i < from.length; i++) this.values[i] = from[i];
  }
}

export class Counter extends ScalarFamily {
  readonly type = 'counter' as const;

  inc(slot = 0, by = 1): void {
    if (by > 0) this.values[slot] += by;
  }
}

export class Gauge extends ScalarFamily {
  readonly type = 'gauge' as const;
}

/**
 * A histogram with fixed upper bounds. Per series: one count per bucket (not cumulative:
 * the exposition adds them up), the +Inf bucket last, and the sum of observed values.
 */
export class Histogram extends Family {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];
  /** size × (buckets + 1) counts, series after series. */
  readonly counts: Float64Array;
  readonly sums: Float64Array;

  constructor(spec: FamilySpec, buckets: readonly number[]) {
    super(spec, ['le']);
    for (let i = 0; i < buckets.length; i++) {
      if (!Number.isFinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) {
        throw new RangeError(`${spec.name}: buckets must be finite and increasing`);
      }
    }
    this.buckets = [...buckets];
    this.counts = new Float64Array(this.size * (buckets.length + 1));
    this.sums = new Float64Array(this.size);
  }

  observe(slot: number, value: number): void {
    if (Number.isNaN(value)) return; // nothing to count
    const b = this.buckets;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[slot * (b.length + 1) + i]++;
    this.sums[slot] += value;
  }
}

/** Any family the registry holds; `type` tells which. */
export type AnyFamily = Counter | Gauge | Histogram;

/** The families of one exposition, and the collectors that fill them in at scrape time. */
export class Registry {
  readonly #families: AnyFamily[] = [];
  readonly #collectors: Array<() => void> = [];

  counter(spec: FamilySpec): Counter {
    return this.#add(new Counter(spec));
  }

  gauge(spec: FamilySpec): Gauge {
    return this.#add(new Gauge(spec));
  }

  histogram(spec: FamilySpec, buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(spec, buckets));
  }

  /** Runs before every scrape, in the order added. */
  onCollect(collector: () => void): void {
    this.#collectors.push(collector);
  }

  /** Runs the collectors and returns the families, in the order they were declared. */
  collect(): readonly AnyFamily[] {
    for (const c of this.#collectors) c();
    return this.#families;
  }

  #add<F extends AnyFamily>(family: F): F {
    const taken = new Set(this.#families.flatMap(exposedNames));
    for (const name of exposedNames(family)) if (taken.has(name)) throw new TypeError(`metric "${name}" is declared twice`);
    this.#families.push(family);
    return family;
  }
}

/** The sample names a family writes (a histogram writes three). */
function exposedNames(f: Family): string[] {
  return f.type === 'histogram' ? [f.name, `${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`] : [f.name];
}
