import { createRequire } from 'node:module';

/** One sample of a metric family, as parse-prometheus-text-format reads it. */
export interface Sample {
  labels?: Record<string, string>;
  value?: string;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}

export interface Family {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: Sample[];
}

// the package ships CommonJS without types
const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

/** Parses the Prometheus text format with a real parser, by metric family name. */
export function parsePrometheus(text: string): Map<string, Family> {
  return new Map(parse(text).map((f) => [f.name, f]));
}

/**
 * The count of one labelled series of a histogram. The parser flattens a histogram's
 * series into one, so each series is handed to it alone, its own labels left out.
 */
export function histogramCount(text: string, family: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const series = text.split('\n').filter((line) => line.startsWith(`${family}_`) && wanted.every((l) => line.includes(l)));
  if (!series.length) return undefined;
  const stripped = series.map((line) => wanted.reduce((l, label) => l.replace(new RegExp(`,?${label.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`), ''), line).replace('{,', '{').replace('{}', ''));
  const parsed = parse(`# TYPE ${family} histogram\n${stripped.join('\n')}\n`)[0];
  const sample = parsed?.metrics[0];
  return sample?.count === undefined ? undefined : Number(sample.count);
}

/** The value of the sample of `family` whose labels are exactly `labels` (undefined when there is none). */
export function sampleValue(families: Map<string, Family>, family: string, labels: Record<string, string> = {}): number | undefined {
  const f = families.get(family);
  const want = JSON.stringify(Object.entries(labels).sort());
  const s = f?.metrics.find((m) => JSON.stringify(Object.entries(m.labels ?? {}).sort()) === want);
  if (!s) return undefined;
  return Number(s.value ?? s.count);
}
