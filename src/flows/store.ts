// The bounded in-memory flow store. Insertion order of the Map is the order
// of last change, so the first entry is the least recently active flow and
// the one evicted when the store is full. Every eviction is counted.
//
// Flows are held in a compact form (Held): one flat object per flow, its two
// parties' names shared between flows (a node's flows mostly involve the same
// few pods and Services), instead of a Flow with two endpoint and two counter
// objects of its own: ~620 -> ~380 bytes a flow, which is what most of an
// agent's memory is with 100,000 flows (issue 13). Readers get Flow objects,
// made when asked for (get, all); listeners get the Flow that was put.
import type { EndpointKind, Flow, FlowEndpoint, TrafficDirection, Verdict } from './types.js';

export type FlowListener = (flow: Flow) => void;

export interface StoreStats {
  held: number;
  max: number;
  /** distinct flows ever added */
  seen: number;
  /** flows pushed out because the store was full */
  evicted: number;
}

/** Who one side of a flow is (a FlowEndpoint without its port); shared, never changed. */
interface Party {
  readonly ip: string;
  readonly namespace: string;
  readonly pod: string;
  readonly network: string;
  readonly node: string;
  readonly service: string;
  readonly kind: EndpointKind;
}

/** One flow as the store holds it; the strings are the Flow's own (shared constants and names). */
interface Held {
  id: string;
  node: string;
  ifindex: number;
  src: Party;
  dst: Party;
  srcPort: number;
  dstPort: number;
  protocol: number;
  protocolName: string;
  ethertype: number;
  direction: TrafficDirection;
  verdict: Verdict;
  dropReason: string;
  allowRule: string;
  code: number;
  fPackets: number;
  fBytes: number;
  fDrops: number;
  fFlags: number;
  rPackets: number;
  rBytes: number;
  rDrops: number;
  rFlags: number;
  firstSeenMs: number;
  lastSeenMs: number;
}

/** Parties are shared through this cache; cleared when it grows past this
 *  (held flows keep theirs; only the sharing of new ones starts over). */
const PARTY_CACHE_MAX = 65_536;

export class FlowStore {
  private readonly flows = new Map<string, Held>();
  private readonly listeners = new Set<FlowListener>();
  private readonly parties = new Map<string, Party>();
  private seen = 0;
  private evicted = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`flow store size must be a positive integer, got ${max}`);
  }

  get(id: string): Flow | undefined {
    const h = this.flows.get(id);
    return h === undefined ? undefined : toFlow(h);
  }

  /** Add or replace a flow; listeners hear about it. */
  put(flow: Flow): void {
    const had = this.flows.delete(flow.id);
    if (!had) {
      this.seen++;
      while (this.flows.size >= this.max) {
        const oldest = this.flows.keys().next();
        if (oldest.done) break;
        this.flows.delete(oldest.value);
        this.evicted++;
      }
    }
    this.flows.set(flow.id, this.hold(flow));
    for (const l of this.listeners) l(flow);
  }

  /** Every flow, least recently changed first. */
  all(): Flow[] {
    const out: Flow[] = [];
    for (const h of this.flows.values()) out.push(toFlow(h));
    return out;
  }

  get size(): number {
    return this.flows.size;
  }

  stats(): StoreStats {
    return { held: this.flows.size, max: this.max, seen: this.seen, evicted: this.evicted };
  }

  subscribe(listener: FlowListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  private party(e: FlowEndpoint): Party {
    const key = `${e.ip}\0${e.kind}\0${e.namespace}\0${e.pod}\0${e.network}\0${e.node}\0${e.service}`;
    let p = this.parties.get(key);
    if (p === undefined) {
      if (this.parties.size >= PARTY_CACHE_MAX) this.parties.clear();
      p = Object.freeze({ ip: e.ip, namespace: e.namespace, pod: e.pod, network: e.network, node: e.node, service: e.service, kind: e.kind });
      this.parties.set(key, p);
    }
    return p;
  }

  private hold(f: Flow): Held {
    return {
      id: f.id,
      node: f.node,
      ifindex: f.ifindex,
      src: this.party(f.source),
      dst: this.party(f.destination),
      srcPort: f.source.port,
      dstPort: f.destination.port,
      protocol: f.protocol,
      protocolName: f.protocolName,
      ethertype: f.ethertype,
      direction: f.direction,
      verdict: f.verdict,
      dropReason: f.dropReason,
      allowRule: f.allowRule,
      code: f.code,
      fPackets: f.forward.packets,
      fBytes: f.forward.bytes,
      fDrops: f.forward.droppedPackets,
      fFlags: f.forward.tcpFlags,
      rPackets: f.reverse.packets,
      rBytes: f.reverse.bytes,
      rDrops: f.reverse.droppedPackets,
      rFlags: f.reverse.tcpFlags,
      firstSeenMs: f.firstSeenMs,
      lastSeenMs: f.lastSeenMs,
    };
  }
}

const endpoint = (p: Party, port: number): FlowEndpoint => ({
  ip: p.ip,
  port,
  namespace: p.namespace,
  pod: p.pod,
  network: p.network,
  node: p.node,
  service: p.service,
  kind: p.kind,
});

function toFlow(h: Held): Flow {
  return {
    id: h.id,
    node: h.node,
    ifindex: h.ifindex,
    source: endpoint(h.src, h.srcPort),
    destination: endpoint(h.dst, h.dstPort),
    protocol: h.protocol,
    protocolName: h.protocolName,
    ethertype: h.ethertype,
    direction: h.direction,
    verdict: h.verdict,
    dropReason: h.dropReason,
    allowRule: h.allowRule,
    code: h.code,
    forward: { packets: h.fPackets, bytes: h.fBytes, droppedPackets: h.fDrops, tcpFlags: h.fFlags },
    reverse: { packets: h.rPackets, bytes: h.rBytes, droppedPackets: h.rDrops, tcpFlags: h.rFlags },
    firstSeenMs: h.firstSeenMs,
    lastSeenMs: h.lastSeenMs,
  };
}
