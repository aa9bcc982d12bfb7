// The export's field mask: a list of dotted field names of the Flow message as
// `vrfwall flows -o json` prints it ("verdict", "source.pod",
// "forward.packets"; snake_case is accepted: "drop_reason"). A record keeps
// the named fields, in the message's order; naming a message field
// ("source") keeps all of it. An empty mask keeps everything. GetFlows has no
// field mask, so this is the export's own.
import type { FlowMsg } from '../api/messages.js';

export class FieldMaskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FieldMaskError';
  }
}

const ENDPOINT_FIELDS = ['ip', 'port', 'namespace', 'pod', 'network', 'node', 'service', 'kind', 'interface'] as const;
const COUNTER_FIELDS = ['packets', 'bytes', 'droppedPackets', 'tcpFlags'] as const;
/** The Flow message's fields in proto order, and the sub-fields of its message fields. */
const FLOW_FIELDS: Record<string, readonly string[] | undefined> = {
  id: undefined,
  node: undefined,
  ifindex: undefined,
  source: ENDPOINT_FIELDS,
  destination: ENDPOINT_FIELDS,
  protocol: undefined,
  protocolName: undefined,
  direction: undefined,
  verdict: undefined,
  dropReason: undefined,
  allowRule: undefined,
  code: undefined,
  forward: COUNTER_FIELDS,
  reverse: COUNTER_FIELDS,
  firstSeenMs: undefined,
  lastSeenMs: undefined,
  ethertype: undefined,
  policy: undefined,
};

/** top-level field -> the sub-fields kept ('all': the whole field) */
export type FieldMask = ReadonlyMap<string, 'all' | ReadonlySet<string>>;

const camel = (s: string): string => s.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/** Checks the names; throws a FieldMaskError naming the first unknown one. */
export function parseFieldMask(paths: readonly string[]): FieldMask {
  const mask = new Map<string, 'all' | Set<string>>();
  for (const raw of paths) {
    const p = raw.trim();
    const [top = '', sub, more] = p.split('.').map(camel);
    const known = Object.keys(FLOW_FIELDS);
    if (!known.includes(top)) throw new FieldMaskError(`field ${JSON.stringify(raw)}: not a field of Flow (${known.join(', ')})`);
    if (more !== undefined) throw new FieldMaskError(`field ${JSON.stringify(raw)}: Flow's fields are at most two levels deep`);
    if (sub === undefined) {
      mask.set(top, 'all');
      continue;
    }
    const subs = FLOW_FIELDS[top];
    if (subs === undefined) throw new FieldMaskError(`field ${JSON.stringify(raw)}: ${top} has no sub-fields`);
    if (!subs.includes(sub)) throw new FieldMaskError(`field ${JSON.stringify(raw)}: not a field of ${top} (${subs.join(', ')})`);
    const have = mask.get(top);
    if (have === 'all') continue;
    mask.set(top, (have ?? new Set<string>()).add(sub));
  }
  return mask;
}

/** The message with only the mask's fields, in the message's order; an empty mask: the message itself. */
export function applyFieldMask(m: FlowMsg, mask: FieldMask): Partial<FlowMsg> | FlowMsg {
  if (mask.size === 0) return m;
  const out: Record<string, unknown> = {};
  const src = m as unknown as Record<string, unknown>;
  for (const [top, subs] of Object.entries(FLOW_FIELDS)) {
    const keep = mask.get(top);
    if (keep === undefined) continue;
    if (keep === 'all' || subs === undefined) {
      out[top] = src[top];
      continue;
    }
    const whole = src[top] as Record<string, unknown>;
    const part: Record<string, unknown> = {};
    for (const s of subs) if (keep.has(s)) part[s] = whole[s];
    out[top] = part;
  }
  return out as Partial<FlowMsg>;
}
