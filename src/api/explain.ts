// Explain: what the kernel will do with a packet from A to B. A synthesized
// packet runs through the LOADED programs with BPF_PROG_TEST_RUN: the
// sender's from_pod when the sender is a pod on this node, then the
// receiver's to_pod when the receiver is. The probe carries VW_PROBE_MAGIC
// and the agent's probe key in skb->cb[0..1], so the programs write nothing and leave their decision
// in cb[2] (verdict) and cb[3] (allow rule or drop reason).
import { podLabel } from '../flows/label.js';
import ipaddr from 'ipaddr.js';
import { TcAction, Verdict, allowRuleName, canonicalAddr, dropReasonName } from '../kernel/abi.js';
import { probeDecision, skbCtx } from '../kernel/skb.js';
import type { NativeAddon } from '../kernel/native.js';
import type { Directory, EndpointInfo } from '../flows/directory.js';
import { FilterError, parseProtocol } from '../flows/filter.js';
import type { FlowEndpoint } from '../flows/types.js';
import { invalid, ApiError } from './flow-service.js';
import * as grpc from '@grpc/grpc-js';
import type { ExplainRequest, ExplainResponse, ExplainStepMsg } from './messages.js';
import { PROBE_SPORT, probeFrame } from './packet.js';
import type { PolicyJudgement } from '../flows/policy-name.js';
import type { OpeningPacket } from '../model/verdict.js';

const DEFAULT_PORT = 80;

export const RULE_TEXT: Record<string, string> = {
  SAME_NETWORK: 'rule 1: both endpoints are in the same network',
  ROUTER: 'rule 2: a VirtualNetworkRouter connects the two networks',
  SERVICE: "rule 3: a Service address (ClusterIP or frontend) the sender's network may use",
  SERVICE_BACKEND: "rule 4: a backend pod of a shared Service, of the Service's namespace, on a target port",
  REPLY: 'rule 5: a reply within a connection rule 3 or 4 allowed',
  NOT_POD: 'rule 6: one side is not a pod (node, host network or outside the cluster)',
};

export interface ProbePrograms {
  fromPod: number;
  toPod: number;
  /** vw_config.probe_key: what makes a test run a probe that writes nothing */
  probeKey: number;
  /** the node-wide setting (agent --enforcement; docs/audit.md) */
  enforcement?: 'audit' | 'enforce';
}

/** Which audit mode let a packet through that enforce mode would drop: the
 *  sides' networks in audit mode (vrfwall.dev/enforcement), else the node's
 *  setting. */
function auditWhy(dir: Directory, src: Side, dst: Side, programs: ProbePrograms, node: string): string {
  const nets = [src.info?.network, dst.info?.network].filter(
    (n, i, all): n is string => !!n && all.indexOf(n) === i && dir.networks.get(n)?.enforcement === 'audit',
  );
  if (nets.length > 0) return `network ${nets.join(' and ')} ${nets.length > 1 ? 'are' : 'is'} in audit mode (vrfwall.dev/enforcement: audit)`;
  if (programs.enforcement === 'audit') return `node ${node} is in audit mode (agent --enforcement audit)`;
  return 'audit mode';
}

export interface Side {
  ip: string;
  info: EndpointInfo | undefined;
  text: string;
}

/** The addresses of one interface of a pod: "" its cluster-network one, else a secondary one ("eth1"). */
function podEntries(dir: Directory, ns: string, name: string, ifname: string): EndpointInfo[] {
  return [...dir.byIp.values()].filter((e) => e.namespace === ns && e.pod === name && e.interface === ifname);
}

/** The addresses "ns/pod", "ns/pod@ifname" or an IP stands for (exported for tests). */
export function resolve(dir: Directory, text: string, field: string, family: 4 | 6 | undefined): Side[] {
  const t = text.trim();
  if (t === '') throw invalid(`${field}: required ("namespace/pod[@interface]" or an IP address)`);
  if (t.includes('/') && !t.includes(':') && !/^\d+\.\d+\.\d+\.\d+\//.test(t)) {
    // "ns/pod": its cluster-network interface; "ns/pod@eth1": a secondary one.
    const [ns, named, ...rest] = t.split('/');
    const [name, ifname, ...more] = (named ?? '').split('@');
    if (!ns || !name || rest.length > 0 || more.length > 0 || ifname === '') throw invalid(`${field}: ${JSON.stringify(t)} is not "namespace/pod[@interface]"`);
    const entries = podEntries(dir, ns, name, ifname ?? '');
    if (entries.length === 0) {
      throw new ApiError(grpc.status.NOT_FOUND, `${field}: no pod ${ifname === undefined ? t : `${ns}/${name} with an interface ${ifname}`} known to this agent`);
    }
    return entries
      .filter((e) => family === undefined || ipaddr.process(e.ip).kind() === (family === 4 ? 'ipv4' : 'ipv6'))
      .map((e) => ({ ip: e.ip, info: e, text: t }));
  }
  let ip: string;
  try {
    ip = canonicalAddr(t);
  } catch {
    throw invalid(`${field}: ${JSON.stringify(t)} is neither "namespace/pod[@interface]" nor an IP address`);
  }
  return [{ ip, info: dir.lookup(ip), text: t }];
}

const kindOf = (ip: string) => ipaddr.process(ip).kind();

function pick(src: Side[], dst: Side[], family: string): [Side, Side] {
  const want = family === 'ipv6' ? ['ipv6'] : family === 'ipv4' ? ['ipv4'] : ['ipv4', 'ipv6'];
  for (const k of want) {
    const s = src.find((x) => kindOf(x.ip) === k);
    const d = dst.find((x) => kindOf(x.ip) === k);
    if (s && d) return [s, d];
  }
  throw invalid(`destination: no address of the same family as the source${family ? ` (${family})` : ''}`);
}

function endpointOf(side: Side, port: number): FlowEndpoint {
  const i = side.info;
  return {
    ip: side.ip,
    port,
    namespace: i?.namespace ?? '',
    pod: i?.pod ?? '',
    network: i?.network ?? '',
    node: i?.node ?? '',
    service: i?.service ?? '',
    kind: i?.kind ?? 'external',
    interface: i?.interface ?? '',
  };
}

export function explain(
  bpf: NativeAddon,
  programs: ProbePrograms,
  dir: Directory,
  node: string,
  req: ExplainRequest,
  /** NetworkPolicy's name for a hook's decision (src/flows/policy-name.ts); absent: none named */
  policy?: (hook: 'from_pod' | 'to_pod', packet: OpeningPacket) => PolicyJudgement | undefined,
): ExplainResponse {
  const family = req.family.trim().toLowerCase();
  if (family !== '' && family !== 'ipv4' && family !== 'ipv6') throw invalid(`family: ${JSON.stringify(req.family)} is not ipv4 or ipv6`);
  let proto: number;
  try {
    proto = parseProtocol(req.protocol || 'tcp', 'protocol');
  } catch (e) {
    throw e instanceof FilterError ? invalid(e.message) : e;
  }
  if (req.port > 65535) throw invalid(`port: ${req.port} is not a port (1-65535)`);
  const fam = family === 'ipv4' ? 4 : family === 'ipv6' ? 6 : undefined;
  const [src, dst] = pick(resolve(dir, req.source, 'source', fam), resolve(dir, req.destination, 'destination', fam), family);
  const v6 = kindOf(src.ip) === 'ipv6';
  if (proto === 1 && v6) proto = 58;
  if (proto === 58 && !v6) proto = 1;
  const hasPorts = proto === 6 || proto === 17 || proto === 132;
  const port = hasPorts ? req.port || DEFAULT_PORT : 0;
  // From a bridge port only its pod's MAC passes: send as the pod would.
  const srcMac = src.info?.local ? dir.portMacs.get(src.info.ifindex) : undefined;
  const frame = probeFrame({ src: src.ip, dst: dst.ip, proto, dport: port, ...(srcMac !== undefined ? { srcMac } : {}) });

  const steps: ExplainStepMsg[] = [];
  const run = (hook: 'from_pod' | 'to_pod', side: Side): ExplainStepMsg => {
    const ifindex = side.info?.ifindex ?? 0;
    const ctx = skbCtx(ifindex, programs.probeKey);
    const res = bpf.progTestRun(hook === 'from_pod' ? programs.fromPod : programs.toPod, frame, 1, ctx);
    const { verdict, code } = probeDecision(res.ctxOut ?? ctx);
    const expected = verdict === Verdict.DROPPED ? TcAction.DROP : TcAction.ALLOW; // AUDIT passes
    if (res.retval !== expected) {
      throw new ApiError(grpc.status.INTERNAL, `${hook} returned ${res.retval} but reported verdict ${verdict}: stale programs?`);
    }
    const allowed = verdict === Verdict.ALLOWED;
    const audited = verdict === Verdict.AUDIT;
    const reason = allowed ? allowRuleName(code) : dropReasonName(code);
    const byPolicy = reason === 'POLICY_EGRESS' || reason === 'POLICY_INGRESS';
    // The programs decided; the model names the policy (only where segmentation let the packet through).
    const named = allowed || audited || byPolicy ? policy?.(hook, { src: src.ip, dst: dst.ip, protocol: proto, sport: hasPorts ? PROBE_SPORT : 0, dport: port }) : undefined;
    const step: ExplainStepMsg = {
      hook,
      pod: (side.info && podLabel(side.info)) || side.ip,
      ifindex,
      verdict: allowed ? 'VERDICT_ALLOWED' : audited ? 'VERDICT_AUDIT' : 'VERDICT_DROPPED',
      reason,
      rule: allowed
        ? (RULE_TEXT[reason] ?? reason)
        : byPolicy
          ? `section 3 allows it, NetworkPolicy does not: ${named?.text ?? `dropped as ${reason}`}`
          : audited
          ? `AUDIT: no rule of section 3 allows it, enforce mode would drop it as ${reason}; it passes because ${auditWhy(dir, src, dst, programs, node)}`
          : `no rule of section 3 allows it: dropped as ${reason}`,
      policy: named?.text ?? '',
    };
    steps.push(step);
    return step;
  };

  const srcLocal = src.info?.kind === 'pod' && src.info.local && src.info.ifindex > 0;
  const dstLocal = dst.info?.kind === 'pod' && dst.info.local && dst.info.ifindex > 0;
  if (!srcLocal && !dstLocal) {
    const where = [src.info?.node, dst.info?.node].filter((n): n is string => !!n && n !== node);
    throw new ApiError(
      grpc.status.FAILED_PRECONDITION,
      `neither ${src.text} nor ${dst.text} is a pod on node ${node}` + (where.length ? `; ask the agent on ${[...new Set(where)].join(' or ')}` : ''),
    );
  }
  let last: ExplainStepMsg | undefined;
  if (srcLocal) last = run('from_pod', src);
  if (dstLocal && last?.verdict !== 'VERDICT_DROPPED') last = run('to_pod', dst);
  // A hook in audit mode passes what the other would allow: the packet is AUDIT then.
  const decided = last?.verdict === 'VERDICT_ALLOWED' ? (steps.find((s) => s.verdict === 'VERDICT_AUDIT') ?? last) : (last as ExplainStepMsg);
  const notes: string[] = [];
  // Why a side is quarantined (its placement's reason), as the log and the Event say it.
  for (const side of [src, dst]) if (side.info?.quarantined) notes.push(`${podLabel(side.info)} is quarantined: ${side.info.reason}`);
  if (!srcLocal) notes.push(`the sender's from_pod hook runs on ${src.info?.node || 'another node or nowhere (not a local pod)'}`);
  if (!dstLocal && decided.verdict !== 'VERDICT_DROPPED') {
    notes.push(`the receiver's to_pod hook runs on ${dst.info?.node || 'another node or nowhere (not a local pod)'}`);
  }
  return {
    verdict: decided.verdict,
    reason: decided.reason,
    rule: decided.rule,
    steps,
    source: endpointOf(src, hasPorts ? 40000 : 0),
    destination: endpointOf(dst, port),
    node,
    note: notes.join('; '),
  };
}

