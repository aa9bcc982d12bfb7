// `vrfwall flows|status|explain|networks|endpoints`: clients of the agents'
// gRPC API. main.ts calls registerApiCommands(program).
import { podLabel } from '../flows/label.js';
import { Command, InvalidArgumentError, Option } from 'commander';
import type * as grpc from '@grpc/grpc-js';
import { AgentClient, collect, resolveTargets, useLabAgents, type Target, type TargetOptions } from '../api/client.js';
import type {
  AggregateKeyName,
  ExplainResponse,
  GetFlowStatsRequest,
  GetFlowStatsResponse,
  SortByName,
  FlowFilterMsg,
  FlowMsg,
  GetFlowsRequest,
  GetFlowsResponse,
  ListEndpointsResponse,
  ListNetworksResponse,
  NodeReportMsg,
  ServerStatusResponse,
  FlowExportStatusMsg,
} from '../api/messages.js';
import { flowsOf } from '../api/messages.js';
import { labAgentsFromProgram } from './lab-program.js';
import { mergeExplain } from '../relay/merge.js';
import { TrafficDirection } from '../api/generated/vrfwall/v1/TrafficDirection.js';
import { Verdict } from '../api/generated/vrfwall/v1/Verdict.js';
import { AggregateKey } from '../api/generated/vrfwall/v1/AggregateKey.js';
import { mergeGroups } from '../relay/merge.js';
import { registerWhatIfCommand } from './whatif.js';
import type { FlowEndpoint } from '../flows/types.js';

type Output = 'table' | 'json';

export interface ConnFlags extends TargetOptions {
  output: Output;
}

export function withConnection(cmd: Command): Command {
  return cmd
    .option('--lab <name>', 'the agents of this running lab (all nodes unless --node)')
    .option('--node <node>', "with --lab: only this node's agent")
    .option('--socket <path>', 'unix socket of an agent (default: /run/vrfwall/default/api.sock, or the one lab that is up)')
    .option('--server <host:port>', 'TCP address of an agent (mutual TLS)')
    .option('--tls-cert <file>', 'client certificate for --server')
    .option('--tls-key <file>', 'client key for --server')
    .option('--tls-ca <file>', 'CA of the server certificate for --server')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'));
}

export function fail(command: string, e: unknown): void {
  const err = e as Partial<grpc.ServiceError>;
  const msg = err.details ?? (e instanceof Error ? e.message : String(e));
  console.error(`vrfwall ${command}: ${msg}`);
  process.exitCode = 1;
}

/** --lab and the default target ask the lab program, when this
 *  installation has one (the agent's image does not). */
export function clients(f: TargetOptions): AgentClient[] {
  const labs = labAgentsFromProgram();
  if (labs !== undefined) useLabAgents(labs);
  return resolveTargets(f).map((t: Target) => new AgentClient(t));
}

// ---- formatting ----------------------------------------------------------------

function endpointText(e: FlowEndpoint): string {
  const who = e.pod ? podLabel(e) : e.service ? `svc:${e.service}` : e.kind === 'host' ? 'node' : '';
  const addr = e.ip ? (e.ip.includes(':') ? `[${e.ip}]` : e.ip) + (e.port ? `:${e.port}` : '') : '-';
  return who ? `${who} ${addr}` : addr;
}

function time(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString().slice(11, 23) : '-';
}

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

export const FLOW_HEADER = ['LAST SEEN', 'NODE', 'SOURCE', 'DESTINATION', 'PROTO', 'VERDICT', 'REASON', 'PKTS', 'BYTES'];

export function flowRow(f: FlowMsg): string[] {
  const verdict = f.verdict.replace('VERDICT_', '');
  return [
    time(f.lastSeenMs),
    f.node,
    endpointText(f.source),
    endpointText(f.destination),
    f.protocolName,
    verdict,
    // AUDIT: the reason enforce mode would drop it for; NetworkPolicy's name after it
    (verdict === 'ALLOWED' ? f.allowRule : f.dropReason) + (f.policy ? ` (${f.policy})` : ''),
    `${f.forward.packets}/${f.reverse.packets}`,
    `${f.forward.bytes}/${f.reverse.bytes}`,
  ];
}

/** A relay's account of the nodes behind an answer; '' for an agent's answer (it has none). */
export function nodesText(r: NodeReportMsg | null | undefined): string {
  if (!r || (r.answered.length === 0 && r.failed.length === 0)) return '';
  const failed = r.failed.map((f) => `${f.node} (${f.error})`);
  return `nodes answered: ${r.answered.join(', ') || 'none'}${failed.length > 0 ? `; did NOT answer: ${failed.join('; ')}` : ''}`;
}

// ---- flows ----------------------------------------------------------------------

interface FlowFlags extends ConnFlags {
  namespace: string[];
  pod: string[];
  fromPod: string[];
  toPod: string[];
  network: string[];
  verdict: string[];
  reason: string[];
  ip: string[];
  port: string[];
  protocol: string[];
  direction: string[];
  exclude: string[];
  last?: number;
  first?: number;
  since?: string;
  until?: string;
  follow: boolean;
  aggregateBy: string[];
  sort: string;
  top?: number;
}

const collectList = (v: string, prev: string[]): string[] => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

function nonNegativeInt(what: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${what} must be a whole number`);
    return Number(v);
  };
}

/** "30s", "5m", "2h", "1d" ago, or an ISO time -> ms since the epoch. */
export function parseTime(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (m) {
    const unit = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    return Date.now() - Number(m[1]) * unit;
  }
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Error(`${flag} ${JSON.stringify(text)}: use a duration ago (30s, 5m, 2h) or an ISO time`);
  return t;
}

/** Filter flags -> one FlowFilter; "field=value" (--exclude) -> deny filters. */
const EXCLUDE_FIELDS: Record<string, keyof FlowFilterMsg> = {
  namespace: 'namespace',
  pod: 'pod',
  'from-pod': 'sourcePod',
  'to-pod': 'destinationPod',
  network: 'network',
  verdict: 'verdict',
  reason: 'dropReason',
  ip: 'ip',
  port: 'port',
  protocol: 'protocol',
  direction: 'direction',
  node: 'node',
};

function ports(values: string[], flag: string): number[] {
  return values.map((p) => {
    if (!/^\d+$/.test(p)) throw new Error(`${flag} ${JSON.stringify(p)} is not a port`);
    return Number(p);
  });
}

/** The proto enum name `${prefix}${word}` (e.g. --verdict dropped -> VERDICT_DROPPED); a word that names none is an error, not a filter that matches nothing. */
function enumName<T extends string>(values: Readonly<Record<string, T>>, prefix: string, word: string, flag: string): T {
  const name = `${prefix}${word.toUpperCase()}`;
  const v = Object.hasOwn(values, name) ? values[name] : undefined;
  if (v === undefined || name === `${prefix}UNSPECIFIED`) {
    const words = Object.keys(values).filter((k) => k !== `${prefix}UNSPECIFIED`).map((k) => k.slice(prefix.length).toLowerCase());
    throw new Error(`${flag} ${JSON.stringify(word)}: one of ${words.join(', ')}`);
  }
  return v;
}

export function flowsRequest(f: FlowFlags): Partial<GetFlowsRequest> {
  const allow: FlowFilterMsg = {
    namespace: f.namespace,
    pod: f.pod,
    sourcePod: f.fromPod,
    destinationPod: f.toPod,
    network: f.network,
    verdict: f.verdict.map((v) => enumName(Verdict, 'VERDICT_', v, '--verdict')),
    dropReason: f.reason.map((r) => r.toUpperCase()),
    ip: f.ip,
    port: ports(f.port, '--port'),
    protocol: f.protocol,
    direction: f.direction.map((d) => enumName(TrafficDirection, 'DIRECTION_', d, '--direction')),
  };
  const any = Object.values(allow).some((v) => Array.isArray(v) && v.length > 0);
  const deny: FlowFilterMsg[] = f.exclude.map((x) => {
    const eq = x.indexOf('=');
    const key = EXCLUDE_FIELDS[x.slice(0, eq)];
    if (eq < 1 || !key) throw new Error(`--exclude ${JSON.stringify(x)}: use field=value, field one of ${Object.keys(EXCLUDE_FIELDS).join(', ')}`);
    let value: string = x.slice(eq + 1);
    if (key === 'verdict') value = enumName(Verdict, 'VERDICT_', value, '--exclude verdict');
    if (key === 'direction') value = enumName(TrafficDirection, 'DIRECTION_', value, '--exclude direction');
    return key === 'port' ? { port: ports([value], '--exclude port') } : { [key]: [value] };
  });
  return {
    allow: any ? [allow] : [],
    deny,
    last: f.last ?? 0,
    first: f.first ?? 0,
    sinceMs: f.since ? parseTime(f.since, '--since') : 0,
    untilMs: f.until ? parseTime(f.until, '--until') : 0,
    follow: f.follow,
  };
}

/** Flows per GetFlows message for a history: far fewer messages to decode. */
const HISTORY_BATCH = 500;

/** Prints flows of one or more agents; with follow, until interrupted. */
export async function printFlows(cs: AgentClient[], req: Partial<GetFlowsRequest>, output: Output, out: (line: string) => void = console.log): Promise<void> {
  const print = (f: FlowMsg) => out(output === 'json' ? JSON.stringify(f) : table([flowRow(f)]));
  if (!req.follow) {
    const all = (await Promise.all(cs.map((c) => collect(c.getFlows({ batchSize: HISTORY_BATCH, ...req }))))).flat();
    const flows = all.flatMap(flowsOf).sort((a, b) => a.lastSeenMs - b.lastSeenMs);
    const lost = all.reduce((n, m) => n + (m.lost?.count ?? 0), 0);
    if (output === 'json') for (const f of flows) out(JSON.stringify(f));
    else out(table([FLOW_HEADER, ...flows.map(flowRow)]));
    if (lost > 0) console.error(`(${lost} flows lost in transit)`);
    for (const m of all) if (m.nodes) console.error(`(${nodesText(m.nodes)})`);
    return;
  }
  if (output === 'table') out(table([FLOW_HEADER]));
  await Promise.all(
    cs.map(
      (c) =>
        new Promise<void>((resolve, reject) => {
          const s = c.getFlows(req);
          s.on('data', (m: GetFlowsResponse) => {
            if (m.lost) console.error(`(${m.lost.count} flows lost: ${m.lost.where})`);
            else if (m.nodes) console.error(`(${nodesText(m.nodes)})`);
            else for (const f of flowsOf(m)) print(f);
          });
          s.on('error', (e: grpc.ServiceError) => (e.code === 1 ? resolve() : reject(e)));
          s.on('end', () => resolve());
          process.once('SIGINT', () => s.cancel());
        }),
    ),
  );
}

// ---- aggregation ---------------------------------------------------------------------

/** --aggregate-by words -> AggregateKey names; an unknown word is an error naming the choices. */
export function aggregateKeyNames(words: string[]): AggregateKeyName[] {
  const out = words.map((w) => enumName(AggregateKey, 'AGGREGATE_KEY_', w, '--aggregate-by'));
  const twice = out.find((k, i) => out.indexOf(k) !== i);
  if (twice) throw new Error(`--aggregate-by: ${twice.slice('AGGREGATE_KEY_'.length).toLowerCase()} is named twice`);
  return out;
}

/** The GetFlowStats request of `flows --aggregate-by`: the same filters and window as a flows listing. */
export function aggregateRequest(f: FlowFlags): GetFlowStatsRequest {
  if (f.follow) throw new Error('--aggregate-by gives totals over a window: it cannot be combined with --follow');
  if (f.last !== undefined || f.first !== undefined) throw new Error('--aggregate-by counts every matching flow: use --top to keep the largest groups, not --last/--first');
  const r = flowsRequest(f);
  return {
    allow: r.allow ?? [],
    deny: r.deny ?? [],
    sinceMs: r.sinceMs ?? 0,
    untilMs: r.untilMs ?? 0,
    groupBy: 'GROUP_BY_UNSPECIFIED',
    sortBy: enumName({ SORT_BY_BYTES: 'SORT_BY_BYTES', SORT_BY_PACKETS: 'SORT_BY_PACKETS', SORT_BY_FLOWS: 'SORT_BY_FLOWS' } as Record<string, SortByName>, 'SORT_BY_', f.sort, '--sort'),
    top: f.top ?? 0,
    aggregateBy: aggregateKeyNames(f.aggregateBy),
  };
}

/** Packet and byte totals per group of the keys, from every agent (or the relay), merged. */
export async function printAggregate(cs: AgentClient[], req: GetFlowStatsRequest, output: Output, out: (line: string) => void = console.log): Promise<void> {
  const answers = await Promise.all(cs.map((c) => c.unary<GetFlowStatsResponse>('flows', 'GetFlowStats', { ...req, top: 0 })));
  const groups = mergeGroups(answers.map((a) => a.groups), req.sortBy, req.top);
  const flows = answers.reduce((n, a) => n + a.flows, 0);
  if (output === 'json') {
    out(JSON.stringify({ keys: req.aggregateBy.map((k) => k.slice('AGGREGATE_KEY_'.length).toLowerCase()), flows, groups: groups.map(({ keys, flows: n, packets, bytes, droppedPackets }) => ({ keys, flows: n, packets, bytes, droppedPackets })) }));
  } else {
    const head = [...req.aggregateBy.map((k) => k.slice('AGGREGATE_KEY_'.length)), 'FLOWS', 'PACKETS', 'BYTES', 'DROPPED PKTS'];
    const rows = groups.map((g) => [...g.keys.map((v) => v || '-'), String(g.flows), String(g.packets), String(g.bytes), String(g.droppedPackets)]);
    const sum = (k: 'packets' | 'bytes' | 'droppedPackets') => groups.reduce((n, g) => n + g[k], 0);
    out(table([head, ...rows]));
    out(`total: ${flows} flows${req.top > 0 ? ` (top ${groups.length} groups: ${sum('packets')} packets, ${sum('bytes')} bytes)` : `, ${sum('packets')} packets, ${sum('bytes')} bytes, ${sum('droppedPackets')} dropped packets`}`);
  }
  for (const a of answers) if (a.nodes) console.error(`(${nodesText(a.nodes)})`);
}

// ---- status, networks, endpoints, explain ------------------------------------------

function printStatus(s: ServerStatusResponse): string {
  if (s.nodes) {
    // a relay: its summary, then each agent's own status
    const head = `relay ${s.node}: version ${s.version}, up ${Math.round(s.uptimeSeconds)} s, ${s.flowsHeld} flows held on ${s.nodeStatus?.length ?? 0} node(s), ${s.streamFlowsLost} lost to slow clients; ${s.streams} open stream(s)`;
    return [s.flowExport ? `${head}\n${exportText(s.flowExport)}` : head, nodesText(s.nodes), ...(s.nodeStatus ?? []).map(printStatus)].join('\n\n');
  }
  const lines = [
    `node ${s.node}: version ${s.version}, up ${Math.round(s.uptimeSeconds)} s, ${s.synced ? `synced (generation ${s.generation}, ${time(s.lastSyncMs)})` : 'NOT synced'}, attach ${s.attachMode || '-'}${s.enforcement === 'audit' ? ', AUDIT MODE (--enforcement audit: isolation drops pass, recorded as AUDIT)' : ''}`,
    `flows: ${s.flowsHeld} held of ${s.flowsMax}, ${s.flowsSeen} seen, ${s.flowsEvicted} evicted; events ${s.eventsReceived} received, ${s.eventsLost} lost in the kernel, ${s.streamFlowsLost} lost to slow clients; ${s.streams} open stream(s)`,
    ...(s.flowExport ? [exportText(s.flowExport)] : []),
    table([['MAP', 'TYPE', 'ENTRIES', 'MAX', 'FILL'], ...s.maps.map((m) => [m.name, m.type, String(m.entries), String(m.maxEntries), `${(m.fill * 100).toFixed(1)}%`])]),
  ];
  return lines.join('\n');
}

function exportText(e: FlowExportStatusMsg): string {
  const err = e.lastError ? `; last error ${time(e.lastErrorMs)}: ${e.lastError}` : '';
  return `export: ${e.file}: ${e.written} records written, ${e.dropped} dropped, ${e.filtered} filtered out, ${e.rotations} rotation(s); ${e.queued} queued, lag ${e.lagSeconds.toFixed(1)} s${err}`;
}

function printExplain(r: ExplainResponse): string {
  const v = r.verdict.replace('VERDICT_', '');
  const lines = [`${endpointText(r.source)} -> ${endpointText(r.destination)}: ${v} (${r.reason})`, `  ${r.rule}`];
  for (const s of r.steps) lines.push(`  ${s.hook} of ${s.pod} (ifindex ${s.ifindex}): ${s.verdict.replace('VERDICT_', '')} ${s.reason}${s.policy ? `; ${s.policy}` : ''}`);
  lines.push(`  decided on ${r.node}`);
  if (r.note) lines.push(`  note: ${r.note}`);
  const nodes = nodesText(r.nodes);
  if (nodes) lines.push(`  (${nodes})`);
  return lines.join('\n');
}

async function each<T>(f: ConnFlags, call: (c: AgentClient) => Promise<T>, show: (r: T) => string): Promise<void> {
  const cs = clients(f);
  try {
    const results = await Promise.all(cs.map(call));
    if (f.output === 'json') console.log(JSON.stringify(results.length === 1 ? results[0] : results, null, 2));
    else {
      console.log(results.map(show).join('\n\n'));
      // a relay's answer says which nodes are in it (status prints its own)
      for (const r of results) {
        const nodes = (r as { nodes?: NodeReportMsg | null; nodeStatus?: unknown }).nodes;
        if (nodes && (r as { nodeStatus?: unknown }).nodeStatus === undefined) console.log(`(${nodesText(nodes)})`);
      }
    }
  } finally {
    for (const c of cs) c.close();
  }
}

/** Asks every agent; each runs the hooks that live on its node (FAILED_PRECONDITION
 *  when none do), and the answers are merged: sender's from_pod first, then the
 *  receiver's to_pod; the first drop decides, else the last allow. */
async function explainAll(cs: AgentClient[], req: object): Promise<ExplainResponse> {
  const settled = await Promise.allSettled(cs.map((c) => c.unary<ExplainResponse>('state', 'Explain', req)));
  const ok = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (ok.length === 0) {
    const errs = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as grpc.ServiceError] : []));
    throw errs.find((e) => e.code !== 9) ?? errs[0];
  }
  return mergeExplain(ok) as ExplainResponse; // ok is not empty
}

export function registerApiCommands(program: Command): void {
  withConnection(program.command('flows'))
    .description("flows seen by the agents' datapath: verdicts, reasons, packet and byte counts")
    .option('--namespace <ns>', 'either endpoint in this namespace (repeatable)', collectList, [])
    .option('--pod <ns/name>', 'either endpoint a pod with this ns/name prefix', collectList, [])
    .option('--from-pod <ns/name>', 'source pod prefix', collectList, [])
    .option('--to-pod <ns/name>', 'destination pod prefix', collectList, [])
    .option('--network <ns/name>', "either endpoint's network", collectList, [])
    .option('--verdict <v>', 'allowed, dropped or audit (audit mode: passed, would be dropped; docs/audit.md)', collectList, [])
    .option('--reason <reason>', 'drop reason, e.g. ISOLATED', collectList, [])
    .option('--ip <ip|cidr>', 'either endpoint inside', collectList, [])
    .option('--port <port>', "either endpoint's port", collectList, [])
    .option('--protocol <proto>', 'tcp, udp, sctp, icmp, icmpv6 or a number', collectList, [])
    .option('--direction <dir>', 'egress (the local pod opened it) or ingress', collectList, [])
    .option('--exclude <field=value>', 'leave out matching flows (repeatable), e.g. protocol=icmpv6', (v: string, p: string[]) => [...p, v], [])
    .option('--last <n>', 'the n most recently active flows', nonNegativeInt('--last'))
    .option('--first <n>', 'the n least recently active flows', nonNegativeInt('--first'))
    .option('--since <when>', 'active since (30s, 5m, 2h ago, or an ISO time)')
    .option('--until <when>', 'active until')
    .option('-f, --follow', 'keep streaming new and changed flows', false)
    .option('--aggregate-by <keys>', 'instead of flows: packet and byte totals per group of namespace, pod, network, port, verdict, reason (comma-separated)', collectList, [])
    .addOption(new Option('--sort <by>', 'with --aggregate-by: largest groups first by').choices(['bytes', 'packets', 'flows']).default('bytes'))
    .option('--top <n>', 'with --aggregate-by: only the n largest groups', nonNegativeInt('--top'))
    .action(async (f: FlowFlags) => {
      try {
        const aggregate = f.aggregateBy.length > 0 ? aggregateRequest(f) : undefined;
        const cs = clients(f);
        try {
          if (aggregate) await printAggregate(cs, aggregate, f.output);
          else await printFlows(cs, flowsRequest(f), f.output);
        } finally {
          for (const c of cs) c.close();
        }
      } catch (e) {
        fail('flows', e);
      }
    });

  // The DaemonSet's probes are `vrfwall probe` (probe.ts, from status.json); this asks the API.
  const statusCmd = withConnection(program.command('status'));
  statusCmd
    .description("the agents' status over the API: flows held and lost, map fill, last sync")
    .action(async (f: ConnFlags) => {
      await each(f, (c) => c.unary<ServerStatusResponse>('state', 'ServerStatus', {}), printStatus).catch((e: unknown) => fail('status', e));
    });

  withConnection(program.command('networks'))
    .description('networks the agents know: VRF ids, pods, which networks routers join')
    .action(async (f: ConnFlags) => {
      await each(
        f,
        (c) => c.unary<ListNetworksResponse>('state', 'ListNetworks', {}),
        (r) =>
          table([
            ['NODE', 'NETWORK', 'VRF', 'MODE', 'EXTERNAL', 'PODS', 'REACHES'],
            ...r.networks.map((n) => [r.node, n.name, String(n.vrfId), n.enforcement || 'enforce', n.externalDeny ? 'deny' : 'allow', n.pods.join(',') || '-', n.reaches.join(',') || '-']),
          ]),
      ).catch((e: unknown) => fail('networks', e));
    });

  withConnection(program.command('endpoints'))
    .description('endpoints the agents know: pod and node addresses with their networks, Service addresses with who may use them')
    .option('--namespace <ns>', 'only this namespace')
    .option('--network <ns/name>', 'only this network')
    .option('--local', "only pods on the agent's node", false)
    .action(async (f: ConnFlags & { namespace?: string; network?: string; local: boolean }) => {
      const req = { namespace: f.namespace ?? '', network: f.network ?? '', localOnly: f.local };
      await each(
        f,
        (c) => c.unary<ListEndpointsResponse>('state', 'ListEndpoints', req),
        (r) =>
          table([
            ['NODE', 'IP', 'KIND', 'POD', 'NETWORK', 'LOCAL', 'NOTE'],
            ...r.endpoints.map((e) => [
              r.node,
              e.ip,
              e.kind,
              e.pod ? podLabel(e) : e.service || '-',
              e.network || '-',
              e.local ? `if ${e.ifindex}` : '-',
              e.quarantined ? `QUARANTINED: ${e.reason}` : e.kind === 'service' ? e.reason : '',
            ]),
          ]),
      ).catch((e: unknown) => fail('endpoints', e));
    });

  withConnection(program.command('explain <source> <destination>'))
    .description('what the loaded programs do with a packet from <ns/pod|ip> to <ns/pod|ip> (BPF_PROG_TEST_RUN, nothing is counted)')
    .option('--proto <proto>', 'tcp, udp, sctp, icmp', 'tcp')
    .option('--port <port>', 'destination port', '80')
    .addOption(new Option('--family <family>', 'address family when the pods have both').choices(['ipv4', 'ipv6']))
    .action(async (source: string, destination: string, f: ConnFlags & { proto: string; port: string; family?: string }) => {
      try {
        if (!/^\d+$/.test(f.port)) throw new Error(`--port ${JSON.stringify(f.port)} is not a port`);
        const req = { source, destination, protocol: f.proto, port: Number(f.port), family: f.family ?? '' };
        const cs = clients(f);
        try {
          const r = await explainAll(cs, req);
          console.log(f.output === 'json' ? JSON.stringify(r, null, 2) : printExplain(r));
          if (r.verdict === 'VERDICT_DROPPED') process.exitCode = 3;
        } finally {
          for (const c of cs) c.close();
        }
      } catch (e) {
        fail('explain', e);
      }
    });
  registerWhatIfCommand(program);
}
