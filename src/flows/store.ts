// The bounded in-memory flow store. Flows are kept in the order of their last
// change, so the first is the least recently active flow and the one evicted
// when the store is full. Every eviction is counted.
//
// Flows are held in columns (below), their two parties' names shared between
// flows (a node's flows mostly involve the same few pods and Services),
// instead of a Flow with two endpoint and two counter objects of its own:
// ~620 -> ~330 bytes a flow with its id and index entry, which is what much
// of an agent's memory is with 100,000 flows (issue 13). Readers get Flow
// objects, made when asked for (get, all); listeners get the Flow that was put.
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
  readonly interface: string;
}

// Per flow, in columns (struct of arrays) indexed by a slot number: numbers
// in typed arrays (in blocks of 4,096 slots, added as the store fills), the
// few distinct texts (node, protocol name, direction, verdict, reason, rule)
// as indexes into one table of texts, the two parties as references. A slot
// costs 104 bytes of columns and 24 of references, against ~230 for one flat
// object with 25 fields (plus the id string and its Map entry in both cases).
// Recency is a doubly linked list of slots (oldest at the head), so a flow
// that changes moves to the tail in constant time, as the Map's insertion
// order did.

/** Float64 columns per slot (counters may exceed 2^32; times are ms since the epoch). */
const F_PACKETS = 0;
const F_BYTES = 1;
const F_DROPS = 2;
const R_PACKETS = 3;
const R_BYTES = 4;
const R_DROPS = 5;
const FIRST_SEEN = 6;
const LAST_SEEN = 7;
const F64_STRIDE = 8;

/** Uint32 columns per slot: kernel fields (ports, TCP flags, text indexes two
 *  16-bit halves to a column; protocol and ethertype in one), links. */
const IFINDEX = 0;
const CODE = 1;
/** source port | destination port << 16 */
const PORTS = 2;
/** protocol | ethertype << 8 */
const PROTO_ETH = 3;
/** forward TCP flags | reverse << 16 */
const FLAGS = 4;
/** node | protocol name << 16 (text indexes) */
const T_NODE_PROTO = 5;
/** direction | verdict << 16 */
const T_DIR_VERDICT = 6;
/** drop reason | allow rule << 16 */
const T_REASON_RULE = 7;
const PREV = 8;
const NEXT = 9;
const U32_STRIDE = 10;

const NO_SLOT = 0xffff_ffff;
/** Slots per block of columns: blocks are added as the store fills, never
 *  reallocated or copied (a grown-and-copied column leaves its old copy as a
 *  hole in the C heap; 256 KB blocks are mapped on their own). */
const BLOCK_BITS = 12;
const BLOCK = 1 << BLOCK_BITS;
const IN_BLOCK = BLOCK - 1;

/** Parties are shared through this cache; cleared when it grows past this
 *  (held flows keep theirs; only the sharing of new ones starts over). */
const PARTY_CACHE_MAX = 65_536;

export class FlowStore {
  /** flow id -> its slot */
  private readonly slots = new Map<string, number>();
  private readonly listeners = new Set<FlowListener>();
  private readonly parties = new Map<string, Party>();
  /** texts by index; the texts of flows come from small fixed sets (rule and reason names, the node) */
  private readonly texts: string[] = [];
  private readonly textIndex = new Map<string, number>();
  /** slots in use: 0 .. used-1 (a slot is reused when its flow is evicted) */
  private used = 0;
  private readonly ids: string[] = [];
  /** NetworkPolicy's name, by slot: only flows of pods a policy selects have one (not in the text table,
   *  whose 65,536 texts are for fixed sets) */
  private readonly policies = new Map<number, string>();
  private readonly src: Party[] = [];
  private readonly dst: Party[] = [];
  /** slot s: block s >> BLOCK_BITS, at (s & IN_BLOCK) * stride */
  private readonly f64: Float64Array[] = [];
  private readonly u32: Uint32Array[] = [];
  /** least recently changed slot, most recently changed slot */
  private head = NO_SLOT;
  private tail = NO_SLOT;
  private seen = 0;
  private evicted = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`flow store size must be a positive integer, got ${max}`);
  }

  get(id: string): Flow | undefined {
    const slot = this.slots.get(id);
    return slot === undefined ? undefined : this.flowAt(slot);
  }

  /** Add or replace a flow; listeners hear about it. */
  put(flow: Flow): void {
    checkFields(flow);
    let slot = this.slots.get(flow.id);
    if (slot !== undefined) {
      this.unlink(slot);
    } else {
      this.seen++;
      if (this.slots.size >= this.max && this.head !== NO_SLOT) {
        slot = this.head;
        this.unlink(slot);
        this.slots.delete(this.ids[slot] as string);
        this.evicted++;
      } else {
        if (this.used === this.u32.length * BLOCK) {
          this.f64.push(new Float64Array(BLOCK * F64_STRIDE));
          this.u32.push(new Uint32Array(BLOCK * U32_STRIDE));
        }
        slot = this.used++;
      }
      this.slots.set(flow.id, slot);
    }
    this.write(slot, flow);
    this.link(slot);
    for (const l of this.listeners) l(flow);
  }

  /** Every flow, least recently changed first. */
  all(): Flow[] {
    const out: Flow[] = new Array<Flow>(this.slots.size);
    let n = 0;
    for (let s = this.head; s !== NO_SLOT; s = this.getLink(s, NEXT)) out[n++] = this.flowAt(s);
    return out;
  }

  get size(): number {
    return this.slots.size;
  }

  stats(): StoreStats {
    return { held: this.slots.size, max: this.max, seen: this.seen, evicted: this.evicted };
  }

  subscribe(listener: FlowListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  private getLink(slot: number, which: typeof PREV | typeof NEXT): number {
    return (this.u32[slot >>> BLOCK_BITS] as Uint32Array)[(slot & IN_BLOCK) * U32_STRIDE + which] as number;
  }

  private setLink(slot: number, which: typeof PREV | typeof NEXT, to: number): void {
    (this.u32[slot >>> BLOCK_BITS] as Uint32Array)[(slot & IN_BLOCK) * U32_STRIDE + which] = to;
  }

  private link(slot: number): void {
    this.setLink(slot, PREV, this.tail);
    this.setLink(slot, NEXT, NO_SLOT);
    if (this.tail === NO_SLOT) this.head = slot;
    else this.setLink(this.tail, NEXT, slot);
    this.tail = slot;
  }

  private unlink(slot: number): void {
    const prev = this.getLink(slot, PREV);
    const next = this.getLink(slot, NEXT);
    if (prev === NO_SLOT) this.head = next;
    else this.setLink(prev, NEXT, next);
    if (next === NO_SLOT) this.tail = prev;
    else this.setLink(next, PREV, prev);
  }

  private text(t: string): number {
    let i = this.textIndex.get(t);
    if (i === undefined) {
      // Names of fixed sets (rules, reasons, protocols, the node): never near this.
      if (this.texts.length > 0xffff) throw new RangeError(`flow store: more than ${0xffff + 1} distinct texts`);
      i = this.texts.length;
      this.texts.push(t);
      this.textIndex.set(t, i);
    }
    return i;
  }

  private write(slot: number, f: Flow): void {
    this.ids[slot] = f.id;
    this.src[slot] = this.party(f.source);
    this.dst[slot] = this.party(f.destination);
    const d = this.f64[slot >>> BLOCK_BITS] as Float64Array;
    const o = (slot & IN_BLOCK) * F64_STRIDE;
    d[o + F_PACKETS] = f.forward.packets;
    d[o + F_BYTES] = f.forward.bytes;
    d[o + F_DROPS] = f.forward.droppedPackets;
    d[o + R_PACKETS] = f.reverse.packets;
    d[o + R_BYTES] = f.reverse.bytes;
    d[o + R_DROPS] = f.reverse.droppedPackets;
    d[o + FIRST_SEEN] = f.firstSeenMs;
    d[o + LAST_SEEN] = f.lastSeenMs;
    const u = this.u32[slot >>> BLOCK_BITS] as Uint32Array;
    const b = (slot & IN_BLOCK) * U32_STRIDE;
    u[b + IFINDEX] = f.ifindex;
    u[b + CODE] = f.code;
    u[b + PORTS] = f.source.port + f.destination.port * 0x1_0000;
    u[b + PROTO_ETH] = f.protocol + f.ethertype * 0x100;
    u[b + FLAGS] = f.forward.tcpFlags + f.reverse.tcpFlags * 0x1_0000;
    u[b + T_NODE_PROTO] = this.text(f.node) + this.text(f.protocolName) * 0x1_0000;
    u[b + T_DIR_VERDICT] = this.text(f.direction) + this.text(f.verdict) * 0x1_0000;
    u[b + T_REASON_RULE] = this.text(f.dropReason) + this.text(f.allowRule) * 0x1_0000;
    if (f.policy) this.policies.set(slot, f.policy);
    else this.policies.delete(slot);
  }

  private flowAt(slot: number): Flow {
    const d = this.f64[slot >>> BLOCK_BITS] as Float64Array;
    const o = (slot & IN_BLOCK) * F64_STRIDE;
    const u = this.u32[slot >>> BLOCK_BITS] as Uint32Array;
    const b = (slot & IN_BLOCK) * U32_STRIDE;
    const t = this.texts;
    const ports = u[b + PORTS] as number;
    const protoEth = u[b + PROTO_ETH] as number;
    const flags = u[b + FLAGS] as number;
    const nodeProto = u[b + T_NODE_PROTO] as number;
    const dirVerdict = u[b + T_DIR_VERDICT] as number;
    const reasonRule = u[b + T_REASON_RULE] as number;
    const policy = this.policies.get(slot);
    return {
      ...(policy !== undefined ? { policy } : {}),
      id: this.ids[slot] as string,
      node: t[nodeProto & 0xffff] as string,
      ifindex: u[b + IFINDEX] as number,
      source: endpoint(this.src[slot] as Party, ports & 0xffff),
      destination: endpoint(this.dst[slot] as Party, ports >>> 16),
      protocol: protoEth & 0xff,
      protocolName: t[nodeProto >>> 16] as string,
      ethertype: protoEth >>> 8,
      direction: t[dirVerdict & 0xffff] as TrafficDirection,
      verdict: t[dirVerdict >>> 16] as Verdict,
      dropReason: t[reasonRule & 0xffff] as string,
      allowRule: t[reasonRule >>> 16] as string,
      code: u[b + CODE] as number,
      forward: { packets: d[o + F_PACKETS] as number, bytes: d[o + F_BYTES] as number, droppedPackets: d[o + F_DROPS] as number, tcpFlags: flags & 0xffff },
      reverse: { packets: d[o + R_PACKETS] as number, bytes: d[o + R_BYTES] as number, droppedPackets: d[o + R_DROPS] as number, tcpFlags: flags >>> 16 },
      firstSeenMs: d[o + FIRST_SEEN] as number,
      lastSeenMs: d[o + LAST_SEEN] as number,
    };
  }

  private party(e: FlowEndpoint): Party {
    const key = `${e.ip}\0${e.kind}\0${e.namespace}\0${e.pod}\0${e.network}\0${e.node}\0${e.service}\0${e.interface}`;
    let p = this.parties.get(key);
    if (p === undefined) {
      if (this.parties.size >= PARTY_CACHE_MAX) this.parties.clear();
      p = Object.freeze({ ip: e.ip, namespace: e.namespace, pod: e.pod, network: e.network, node: e.node, service: e.service, kind: e.kind, interface: e.interface });
      this.parties.set(key, p);
    }
    return p;
  }
}

const isUint = (n: number, max: number): boolean => Number.isInteger(n) && n >= 0 && n <= max;

/** The integer fields are the kernel's, of their sizes: anything else would not read back as put. */
function checkFields(f: Flow): void {
  const bad = (name: string, v: number, bits: number): never => {
    throw new RangeError(`flow ${f.id}: ${name} must be an unsigned ${bits}-bit integer, got ${v}`);
  };
  if (!isUint(f.ifindex, 0xffff_ffff)) bad('ifindex', f.ifindex, 32);
  if (!isUint(f.code, 0xffff_ffff)) bad('code', f.code, 32);
  if (!isUint(f.source.port, 0xffff)) bad('source.port', f.source.port, 16);
  if (!isUint(f.destination.port, 0xffff)) bad('destination.port', f.destination.port, 16);
  if (!isUint(f.protocol, 0xff)) bad('protocol', f.protocol, 8);
  if (!isUint(f.ethertype, 0xffff)) bad('ethertype', f.ethertype, 16);
  if (!isUint(f.forward.tcpFlags, 0xffff)) bad('forward.tcpFlags', f.forward.tcpFlags, 16);
  if (!isUint(f.reverse.tcpFlags, 0xffff)) bad('reverse.tcpFlags', f.reverse.tcpFlags, 16);
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
  interface: p.interface,
});
