// The UI's flow filters are the CLI's: URL parameters named as `vrfwall
// flows` flags (namespace, pod, from-pod, to-pod, network, verdict, reason,
// ip, port, protocol, direction, exclude, last, since), turned into a
// GetFlowsRequest by the CLI's own flowsRequest, so a filter means the same
// here and there and a bad one fails with the same words.
import type { GetFlowsRequest } from '../../api/messages.js';
import { flowsRequest } from '../../cli/flows.js';

type FlowFlags = Parameters<typeof flowsRequest>[0];

const LIST_PARAMS = ['namespace', 'pod', 'from-pod', 'to-pod', 'network', 'verdict', 'reason', 'ip', 'port', 'protocol', 'direction', 'exclude'] as const;
const KNOWN = new Set<string>([...LIST_PARAMS, 'last', 'since', 'follow']);
/** How many recent flows the page starts with when it does not say. */
export const DEFAULT_LAST = 200;

export class QueryError extends Error {}

/** URL parameters -> the request the relay's GetFlows gets; throws QueryError naming the bad parameter. */
export function uiFlowsRequest(params: URLSearchParams): GetFlowsRequest {
  for (const k of params.keys()) if (!KNOWN.has(k)) throw new QueryError(`unknown filter ${JSON.stringify(k)}: one of ${[...KNOWN].join(', ')}`);
  // each value may itself be comma-separated, as the CLI's repeatable flags
  const list = (k: (typeof LIST_PARAMS)[number]): string[] => params.getAll(k).flatMap((v) => v.split(',').map((s) => s.trim()).filter(Boolean));
  const lastText = params.get('last');
  let last = DEFAULT_LAST;
  if (lastText !== null && lastText !== '') {
    if (!/^\d+$/.test(lastText)) throw new QueryError(`last ${JSON.stringify(lastText)}: a whole number`);
    last = Number(lastText);
  }
  const since = params.get('since') || undefined;
  const flags: FlowFlags = {
    output: 'json',
    namespace: list('namespace'),
    pod: list('pod'),
    fromPod: list('from-pod'),
    toPod: list('to-pod'),
    network: list('network'),
    verdict: list('verdict'),
    reason: list('reason'),
    ip: list('ip'),
    port: list('port'),
    protocol: list('protocol'),
    direction: list('direction'),
    exclude: list('exclude'),
    last,
    ...(since !== undefined ? { since } : {}),
    follow: params.get('follow') === '1',
    aggregateBy: [],
    sort: 'bytes',
  };
  let r: Partial<GetFlowsRequest>;
  try {
    r = flowsRequest(flags);
  } catch (e) {
    // the CLI's words name its flags ("--verdict ..."): the same names as the parameters
    throw new QueryError((e as Error).message);
  }
  return { allow: r.allow ?? [], deny: r.deny ?? [], last: r.last ?? 0, first: 0, sinceMs: r.sinceMs ?? 0, untilMs: 0, follow: r.follow ?? false, batchSize: 100 };
}
