// The export's filter settings: a JSON list of GetFlows filters (FlowFilter,
// field names as in the proto or its JSON: "source_pod" or "sourcePod"; a
// field takes a list or one value), e.g.
//   [{"verdict": ["DROPPED"]}, {"namespace": ["payments"], "port": [443]}]
// A single object is a list of one. Checked by the same compiler as GetFlows.
import { FilterError, compileFilters, type FlowFilterSpec, type FlowPredicate } from './filter.js';
import { parseFieldMask, type FieldMask } from './field-mask.js';
import { FlowExporter } from './exporter.js';
import { RotatingFile } from './rotating-file.js';

const FIELDS: Record<string, keyof FlowFilterSpec> = {
  namespace: 'namespace',
  pod: 'pod',
  source_pod: 'sourcePod',
  destination_pod: 'destinationPod',
  network: 'network',
  verdict: 'verdict',
  drop_reason: 'dropReason',
  ip: 'ip',
  port: 'port',
  protocol: 'protocol',
  direction: 'direction',
  node: 'node',
};
const NUMERIC = new Set<keyof FlowFilterSpec>(['port']);

/** Parses one setting's JSON text into filter specs; throws an Error saying what is wrong (the caller names the setting). */
export function parseFilterList(text: string): FlowFilterSpec[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const list = Array.isArray(v) ? (v as unknown[]) : [v];
  return list.map((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new Error(`[${i}]: a filter is an object of field: values`);
    const spec: Record<string, unknown[]> = {};
    for (const [k, raw] of Object.entries(item as Record<string, unknown>)) {
      const field = FIELDS[k] ?? (Object.values(FIELDS).includes(k as keyof FlowFilterSpec) ? (k as keyof FlowFilterSpec) : undefined);
      if (field === undefined) throw new Error(`[${i}].${k}: not a filter field (${Object.keys(FIELDS).join(', ')})`);
      const values = Array.isArray(raw) ? (raw as unknown[]) : [raw];
      values.forEach((x, j) => {
        const ok = NUMERIC.has(field) ? typeof x === 'number' : typeof x === 'string';
        if (!ok) throw new Error(`[${i}].${k}[${j}]: must be a ${NUMERIC.has(field) ? 'number' : 'string'}, got ${JSON.stringify(x)}`);
      });
      spec[field] = values;
    }
    return spec as FlowFilterSpec;
  });
}

export interface ExportSelection {
  allow: FlowFilterSpec[];
  deny: FlowFilterSpec[];
  fields: string[];
}

/** The export's predicate and mask, checked; a bad value throws an Error naming it ("allow[0].verdict[0]: ...", "field ..."). */
export function compileExportSelection(sel: ExportSelection): { predicate: FlowPredicate; mask: FieldMask } {
  let predicate: FlowPredicate;
  try {
    predicate = compileFilters(sel.allow, sel.deny);
  } catch (e) {
    if (e instanceof FilterError) throw new Error(e.message);
    throw e;
  }
  return { predicate, mask: parseFieldMask(sel.fields) };
}

/** A checked export configuration (agent and relay). */
export interface FlowExportConfig extends ExportSelection {
  file: string;
  maxBytes: number;
  maxFiles: number;
  maxQueueRecords: number;
}

/** The exporter of a configuration, writing to its rotating file. */
export function openFlowExport(cfg: FlowExportConfig, onError?: (message: string, records: number) => void): FlowExporter {
  const { predicate, mask } = compileExportSelection(cfg);
  return new FlowExporter(new RotatingFile(cfg.file, { maxBytes: cfg.maxBytes, maxFiles: cfg.maxFiles }), {
    predicate,
    mask,
    maxQueueRecords: cfg.maxQueueRecords,
    ...(onError ? { onError } : {}),
  });
}
