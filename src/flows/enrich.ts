// Kernel flow entries and ring-buffer events -> Flow, with names from the
// directory. The kernel key is oriented to the local pod ("self"); a Flow is
// oriented to whoever opened it (the direction of its first packet).
import { Direction, Verdict, allowRuleName, dropReasonName, type FlowKey, type FlowValue } from '../kernel/abi.js';
import type { Directory } from './directory.js';
import { protocolName } from './filter.js';
import type { Flow, FlowCounters, FlowEndpoint } from './types.js';

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;

/** The flow times are bpf_ktime_get_coarse_ns(): CLOCK_MONOTONIC_COARSE, the epoch of
 *  process.hrtime, up to one tick (4 ms at HZ=250) behind it; the reader's scan overlap covers that. */
export class MonoClock {
  private offsetMs = 0;
  constructor() {
    this.sync();
  }
  /** Re-reads the offset (wall clock steps). */
  sync(): void {
    this.offsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
  }
  wallMs(monoNs: bigint): number {
    return Math.round(Number(monoNs) / 1e6 + this.offsetMs);
  }
  nowNs(): bigint {
    return process.hrtime.bigint();
  }
}

function endpoint(dir: Directory, ip: string, port: number): FlowEndpoint {
  const info = ip ? dir.lookup(ip) : undefined;
  if (info) {
    return {
      ip,
      port,
      namespace: info.namespace,
      pod: info.pod,
      network: info.network,
      node: info.node,
      service: info.service,
      kind: info.kind,
      interface: info.interface,
    };
  }
  const kind = !ip ? 'unknown' : dir.inCluster(ip) ? 'unknown' : 'external';
  return { ip, port, namespace: '', pod: '', network: '', node: '', service: '', kind, interface: '' };
}

/** The local side: the pod behind the interface, even when the address is
 *  not its own (a spoofed or link-local source). */
function selfEndpoint(dir: Directory, ip: string, port: number, ifindex: number, node: string): FlowEndpoint {
  const e = endpoint(dir, ip, port);
  const info = ip ? dir.lookup(ip) : undefined;
  const pod = dir.podByIfindex.get(ifindex);
  if (pod && (!info || info.ifindex !== ifindex)) {
    return { ...e, namespace: pod.namespace, pod: pod.pod, interface: pod.interface, network: pod.network, node, service: '', kind: 'pod' };
  }
  return e;
}

const counters = (v: FlowValue, d: number): FlowCounters => ({
  packets: Number(v.packets[d] ?? 0n),
  bytes: Number(v.bytes[d] ?? 0n),
  droppedPackets: Number(v.drops[d] ?? 0n),
  tcpFlags: v.tcpFlags[d] ?? 0,
});

export function flowId(keyBytes: Buffer): string {
  return keyBytes.toString('hex');
}

export function flowFromKernel(id: string, key: FlowKey, v: FlowValue, dir: Directory, node: string, clock: MonoClock): Flow {
  const isIp = key.ethertype === ETH_P_IP || key.ethertype === ETH_P_IPV6;
  const self = selfEndpoint(dir, isIp ? key.selfAddr : '', key.selfPort, key.ifindex, node);
  const peer = endpoint(dir, isIp ? key.peerAddr : '', key.peerPort);
  const egress = v.firstDir === Direction.FROM_POD;
  const sent = counters(v, Direction.FROM_POD);
  const received = counters(v, Direction.TO_POD);
  // AUDIT carries the drop reason it would have had (audit mode)
  const dropped = v.verdict === Verdict.DROPPED || v.verdict === Verdict.AUDIT;
  return {
    id,
    node,
    ifindex: key.ifindex,
    source: egress ? self : peer,
    destination: egress ? peer : self,
    protocol: key.proto,
    protocolName: isIp ? protocolName(key.proto) : `ethertype 0x${key.ethertype.toString(16).padStart(4, '0')}`,
    ethertype: key.ethertype,
    direction: egress ? 'EGRESS' : 'INGRESS',
    verdict: v.verdict === Verdict.AUDIT ? 'AUDIT' : dropped ? 'DROPPED' : 'ALLOWED',
    dropReason: dropped ? dropReasonName(v.code) : '',
    allowRule: dropped ? '' : allowRuleName(v.code),
    code: v.code,
    forward: egress ? sent : received,
    reverse: egress ? received : sent,
    firstSeenMs: clock.wallMs(v.firstNs),
    lastSeenMs: clock.wallMs(v.lastNs),
  };
}
