// Upkeep of the session table (design section 3 rule 5). The programs own the
// table and the per-client counts behind the quota; the agent only
//  - writes the timeouts and the quota into the `config` map (with explain's
//    probe key, the map's one other field), and
//  - runs the session_gc program (BPF_PROG_TEST_RUN) on a timer and after
//    every reconcile that changed a map: it removes sessions idle past their
//    timeout and sessions the current policy no longer allows (a router
//    removed, a client moved to another network), in the kernel, so the
//    counts stay exact.
//    While no client holds a session (no count above zero) the walk is
//    skipped: see sweep().
//
// Fair share: the table is not an LRU, so nobody's traffic evicts anybody's
// live session. A client address may hold at most `quota` sessions; when the
// table could not hold every holder's quota, the quota is lowered to the
// table size divided by the addresses that may hold sessions (this node's pod
// addresses and every other address holding one), recomputed at each sweep.
// A client over its share has its new connections refused
// (VW_DROP_SESSION_LIMIT); nobody else's are.
import {
  decodeSessionOwner,
  encodeConfig,
  encodeEndpointKey,
  decodeEndpointKey,
  Layout,
  VW_EP_LOCAL,
  VW_NS_PER_SEC,
  type DatapathConfig,
} from '../kernel/abi.js';
import type { VerdictEpoch } from './verdict-epoch.js';
import type { MapDump, NativeAddon } from '../kernel/native.js';
import { SKB_CB_OFF, skbCtx } from '../kernel/skb.js';

export interface SessionSettings {
  /** live sessions per client address at most */
  quota: number;
  /** sweep period */
  sweepMs: number;
  timeoutsSec: { tcp: number; tcpSyn: number; tcpClose: number; udp: number; other: number };
}

export const DEFAULT_SESSION_SETTINGS: SessionSettings = {
  quota: 4096,
  sweepMs: 5000,
  timeoutsSec: { tcp: 21600, tcpSyn: 60, tcpClose: 10, udp: 30, other: 60 },
};

export interface SessionMaps {
  sessions: number;
  session_owners: number;
  config: number;
}

export interface SweepResult {
  expired: number;
  revoked: number;
  /** sessions left */
  live: number;
  /** client addresses holding sessions */
  holders: number;
  /** the quota now in force */
  quota: number;
}

/** The quota in force: the configured one, or the fair share of the table. */
export function effectiveQuota(configured: number, tableSize: number, holders: number): number {
  return Math.max(1, Math.min(configured, Math.floor(tableSize / Math.max(1, holders))));
}

const secondsToNs = (s: number): bigint => BigInt(Math.round(s * 1000)) * (VW_NS_PER_SEC / 1000n);

export function datapathConfig(settings: SessionSettings, quota: number, probeKey: number, flags = 0): DatapathConfig {
  const t = settings.timeoutsSec;
  return {
    tcpSynTimeoutNs: secondsToNs(t.tcpSyn),
    tcpEstablishedTimeoutNs: secondsToNs(t.tcp),
    tcpClosingTimeoutNs: secondsToNs(t.tcpClose),
    udpTimeoutNs: secondsToNs(t.udp),
    otherTimeoutNs: secondsToNs(t.other),
    sessionQuota: quota,
    probeKey,
    flags,
  };
}

// Any frame will do: the program looks at no packet.
const GC_FRAME = Buffer.alloc(64);
const CONFIG_KEY = Buffer.alloc(4);

export class SessionKeeper {
  private readonly tableSize: number;
  private readonly ownersSize: number;
  private quota: number;

  constructor(
    private readonly bpf: NativeAddon,
    private readonly maps: SessionMaps,
    private readonly gcProgram: number,
    private readonly settings: SessionSettings,
    /** explain's probe key, written into the same config map */
    private readonly probeKey: number,
    /** the verdict cache's epoch: sweeps that remove sessions retire cached decisions */
    private readonly epoch?: VerdictEpoch,
    /** VW_CFG_* of the same config map (the node-wide audit setting) */
    private readonly configFlags = 0,
  ) {
    this.tableSize = bpf.mapInfo(maps.sessions).maxEntries;
    this.ownersSize = bpf.mapInfo(maps.session_owners).maxEntries;
    this.quota = settings.quota;
    this.writeConfig();
    // The flags may differ from the pinned config's (an agent restarted with
    // another --enforcement): no decision cached under the old one holds.
    this.epoch?.retireAll();
  }

  get quotaInForce(): number {
    return this.quota;
  }

  /**
   * Remove expired and no longer allowed sessions, forget counts of addresses
   * that are no endpoint any more, and recompute the quota.
   * `endpoints`: what the last reconcile wrote (its local pods' addresses are
   * holders even without a session). `local`: the addresses that may be
   * local endpoints (this node's pods'), looked up in `endpoints`; by default
   * every endpoint, which at 100,000 endpoints costs milliseconds per sweep.
   */
  sweep(endpoints: ReadonlyMap<string, { flags: number }>, local: Iterable<string> = endpoints.keys()): SweepResult {
    const keySize = Layout.vw_endpoint_key.size;
    const valueSize = Layout.vw_session_owner.size;
    const liveAt = (d: MapDump, i: number): number => decodeSessionOwner(d.values.subarray(i * valueSize, (i + 1) * valueSize)).live;
    // The programs count a session in its client's entry before they insert
    // it, and remove it before they uncount it: with no count above zero in a
    // dump taken now, every session there was before it is gone, and any made
    // since was decided under the maps as they are now. The walk of the
    // whole table (~0.5 ms at 262,144 slots, every reconcile) is then skipped.
    let dump = this.bpf.mapDump(this.maps.session_owners);
    let any = false;
    for (let i = 0; i < dump.count && !any; i++) any = liveAt(dump, i) > 0;
    let cb = (_i: number): number => 0;
    if (any) {
      const run = this.bpf.progTestRun(this.gcProgram, GC_FRAME, 1, skbCtx(0));
      cb = (i) => run.ctxOut?.readUInt32LE(SKB_CB_OFF + 4 * i) ?? 0;
      dump = this.bpf.mapDump(this.maps.session_owners); // the counts after it
    }
    const holders = new Set<string>();
    for (const addr of local) if ((endpoints.get(addr)?.flags ?? 0) & VW_EP_LOCAL) holders.add(addr);
    const isEndpoint = (addr: string): boolean => endpoints.has(addr);
    // A zero count of an address that is no endpoint cannot change under us
    // (nobody opens a session for it): always forgotten. Zero counts of
    // endpoints are forgotten too once the owners table is half full, or every
    // past client of a shared backend would keep its entry until new clients
    // are refused. A program that creates a session for that address at the
    // same instant may lose its count: that client can hold one session over
    // its quota, nothing more.
    const crowded = dump.count * 2 > this.ownersSize;
    for (let i = 0; i < dump.count; i++) {
      const addr = decodeEndpointKey(dump.keys.subarray(i * keySize, (i + 1) * keySize));
      if (liveAt(dump, i) > 0) holders.add(addr);
      else if (crowded || !isEndpoint(addr)) this.bpf.mapDelete(this.maps.session_owners, encodeEndpointKey(addr));
    }
    const quota = effectiveQuota(this.settings.quota, this.tableSize, holders.size);
    if (quota !== this.quota) {
      this.quota = quota;
      this.writeConfig();
    }
    // A reply cached as allowed must not outlive its session.
    if (cb(0) + cb(1) > 0) this.epoch?.retireAll();
    return { expired: cb(0), revoked: cb(1), live: cb(2), holders: holders.size, quota };
  }

  private writeConfig(): void {
    this.bpf.mapUpdate(this.maps.config, CONFIG_KEY, encodeConfig(datapathConfig(this.settings, this.quota, this.probeKey, this.configFlags)));
  }
}
