// Median and spread of repeated measurements. Every figure the benchmarks
// report is a Sample: the raw values are kept so the JSON can be re-analysed.
export interface Sample {
  /** median of values */
  median: number;
  min: number;
  max: number;
  /** (max - min) / median, as a fraction: the spread over the repeats */
  spread: number;
  values: number[];
}

export function sample(values: number[]): Sample {
  if (values.length === 0) throw new Error('sample: no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  return { median, min, max, spread: median === 0 ? 0 : (max - min) / Math.abs(median), values };
}

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) throw new Error('percentile: no values');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** "12.3 (11.9–13.0)" */
export function fmt(s: Sample, digits = 1): string {
  return `${round(s.median, digits)} (${round(s.min, digits)}–${round(s.max, digits)})`;
}
