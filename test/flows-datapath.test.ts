// The flow accounting of the datapath on the real kernel, through
// BPF_PROG_TEST_RUN: per-flow counters (read back from the LRU hash), the
// new-flow event through the ring buffer (read by the addon's event-loop
// poller) and explain's probe flag (decided, counted nowhere). The cost of
// the accounting per packet is a benchmark (make bench, part progrun), not a test.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as abi from '../src/kernel/abi.js';
import { native, type NativeAddon } from '../src/kernel/native.js';
import { closeDatapath, instancePaths, loadDatapath, type Datapath } from '../src/agent/datapath.js';
import { probeFrame } from '../src/api/packet.js';
import { ROOT } from './helpers/lab.js';
import { HERE, PIN_BASE, TEST_PROBE_KEY, flowTable, probeCtx, probeDecision, removeStalePins, skbCtx } from './helpers/datapath.js';
import { removePins } from '../src/agent/bpffs.js';
import { DEFAULT_SESSION_SETTINGS, datapathConfig } from '../src/agent/sessions.js';
import * as pk from './helpers/packets.js';

const PREFIX = 'tflowdp-';
const paths = instancePaths(PIN_BASE, `${PREFIX}${process.pid}`);
const SELF = '10.244.1.10';
const PEER = '10.244.1.11';
const OTHER_NET_PEER = '10.244.1.12';

let n: NativeAddon;
let dp: Datapath;
let flowsFd = -1;
let eventsFd = -1;

const ctx = (probe: boolean): Buffer => (probe ? probeCtx() : skbCtx(HERE));

function flowEntries(): { key: abi.FlowKey; value: abi.FlowValue }[] {
  return flowTable(n, flowsFd).map(({ key, value }) => ({ key, value }));
}

beforeAll(async () => {
  n = native();
  removeStalePins(PREFIX);
  dp = await loadDatapath(n, path.join(ROOT, 'build/bpf'), paths);
  const put = (ip: string, vrfId: number, flags: number, ifindex: number) =>
    n.mapUpdate(dp.maps.endpoints, abi.encodeEndpointKey(ip), abi.encodeEndpoint({ vrfId, flags, ifindex }));
  put(SELF, 1, abi.VW_EP_LOCAL, HERE); // the loopback plays the pod's interface
  put(PEER, 1, 0, 0);
  put(OTHER_NET_PEER, 2, 0, 0);
  n.mapUpdate(dp.maps.config, Buffer.alloc(4), abi.encodeConfig({ ...datapathConfig(DEFAULT_SESSION_SETTINGS, 4096, TEST_PROBE_KEY) }));
  flowsFd = n.objGet(path.join(paths.maps, abi.FlowMapName.flows));
  eventsFd = n.objGet(path.join(paths.maps, abi.FlowMapName.flowEvents));
});

afterAll(() => {
  if (flowsFd >= 0) n.closeFd(flowsFd);
  if (eventsFd >= 0) n.closeFd(eventsFd);
  if (dp) closeDatapath(n, dp);
  removePins(paths.root);
});

describe('flow accounting in the datapath', () => {
  it('counts every packet of a flow in one entry and announces the new flow once through the ring buffer', async () => {
    const events: abi.FlowEvent[] = [];
    const handle = n.ringbufOpen(eventsFd, (batch) => {
      for (const r of abi.splitRingRecords(batch)) events.push(abi.decodeFlowEvent(r));
    });
    try {
      const frame = probeFrame({ src: SELF, dst: PEER, proto: 17, dport: 53 });
      const res = n.progTestRun(dp.programs.fromPod, frame, 100, ctx(false));
      expect(res.retval).toBe(abi.TcAction.ALLOW);
      const mine = flowEntries().filter((e) => e.key.peerAddr === PEER);
      expect(mine).toHaveLength(1);
      const { key, value } = mine[0]!;
      expect(key).toMatchObject({ selfAddr: SELF, peerAddr: PEER, selfPort: 40000, peerPort: 53, proto: 17, ifindex: HERE, ethertype: 0x0800 });
      expect(value.packets).toEqual([100n, 0n]);
      expect(value.bytes).toEqual([BigInt(100 * frame.length), 0n]);
      expect(value).toMatchObject({ verdict: abi.Verdict.ALLOWED, code: abi.AllowRule.SAME_NETWORK, firstDir: abi.Direction.FROM_POD });
      // The event arrives on the event loop, not by polling from here.
      const t0 = Date.now();
      while (events.length === 0 && Date.now() - t0 < 1000) await new Promise((r) => setTimeout(r, 5));
      expect(events.filter((e) => e.key.peerAddr === PEER)).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: abi.FlowEventType.NEW, dir: abi.Direction.FROM_POD, verdict: abi.Verdict.ALLOWED, len: frame.length });
    } finally {
      expect(n.ringbufClose(handle)).toBe(true);
    }
  });

  it('events wake the reader only once a quarter of the ring is used; until then its timer drains them', async () => {
    const mine = new Set<number>();
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // intervalMs 0: wake-ups only, no timer
    const handle = n.ringbufOpen(eventsFd, (batch) => {
      for (const r of abi.splitRingRecords(batch)) {
        const e = abi.decodeFlowEvent(r);
        if (e.key.peerAddr === PEER && e.key.peerPort >= 50_000) mine.add(e.key.peerPort);
      }
    }, 4096, 0);
    try {
      await sleep(50); // whatever earlier tests left in the ring is read now (it was readable when the poll started)
      const send = (dport: number) =>
        expect(n.progTestRun(dp.programs.fromPod, probeFrame({ src: SELF, dst: PEER, proto: 17, dport }), 1, ctx(false)).retval).toBe(abi.TcAction.ALLOW);
      send(50_000);
      await sleep(150);
      expect(mine.size, 'a lone new flow does not wake the reader').toBe(0);
      // enough new flows to fill a quarter of the ring: the one that crosses it wakes the reader, which reads them all
      const record = abi.FlowLayout.vw_flow_event.size + 8;
      const count = Math.ceil(abi.VW_FLOW_RINGBUF_WAKE_BYTES / record) + 10;
      for (let i = 1; i <= count; i++) send(50_000 + i);
      const t0 = Date.now();
      while (mine.size < count + 1 && Date.now() - t0 < 1000) await sleep(5);
      expect(mine.size).toBe(count + 1);
    } finally {
      expect(n.ringbufClose(handle)).toBe(true);
    }
  });

  it('an explain probe is decided but counted nowhere; the decision comes back in cb[2..3]', () => {
    const before = { flows: flowEntries().length, counters: abi.decodeCounters(n.mapDump(dp.maps.counters), n.possibleCpus()) };
    const frame = probeFrame({ src: SELF, dst: OTHER_NET_PEER, proto: 6, dport: 80 });
    const res = n.progTestRun(dp.programs.fromPod, frame, 1, ctx(true));
    expect(res.retval).toBe(abi.TcAction.DROP);
    expect(res.ctxOut).toBeDefined();
    expect(probeDecision(res.ctxOut!)).toEqual({ verdict: abi.Verdict.DROPPED, code: abi.DropReason.ISOLATED });
    expect(flowEntries().length).toBe(before.flows);
    expect(abi.decodeCounters(n.mapDump(dp.maps.counters), n.possibleCpus())).toEqual(before.counters);
  });

  it('records what the verdict saw: TCP and UDP behind IPv6 Hop-by-Hop and Destination Options headers keep their protocol and ports', () => {
    const self6 = 'fd00:10:244:1::10';
    const peer6 = 'fd00:10:244:1::11';
    n.mapUpdate(dp.maps.endpoints, abi.encodeEndpointKey(self6), abi.encodeEndpoint({ vrfId: 1, flags: abi.VW_EP_LOCAL, ifindex: HERE }));
    n.mapUpdate(dp.maps.endpoints, abi.encodeEndpointKey(peer6), abi.encodeEndpoint({ vrfId: 1, flags: 0, ifindex: 0 }));
    const cases = [
      { exts: [pk.ext.destOpts()], proto: pk.IpProto.TCP, body: pk.tcp({ sport: 41000, dport: 7001 }), dport: 7001 },
      { exts: [pk.ext.hopByHop(), pk.ext.destOpts()], proto: pk.IpProto.UDP, body: pk.udp({ sport: 41000, dport: 7002 }), dport: 7002 },
    ];
    for (const c of cases) {
      const res = n.progTestRun(dp.programs.fromPod, pk.ipv6Frame(self6, peer6, c.exts, c.proto, c.body), 1, ctx(false));
      expect(res.retval).toBe(abi.TcAction.ALLOW);
      const entry = flowEntries().find((e) => e.key.peerAddr === peer6 && e.key.peerPort === c.dport);
      expect(entry?.key, `flow of port ${c.dport}`).toMatchObject({ proto: c.proto, selfPort: 41000, peerPort: c.dport, ethertype: 0x86dd });
    }
    // nothing was recorded under the extension header's number with port 0
    expect(flowEntries().filter((e) => e.key.peerAddr === peer6 && (e.key.proto === 60 || e.key.proto === 0))).toEqual([]);
  });

  it('probe runs skip all accounting, real runs count every repetition (the cost per packet is measured by make bench, progrun)', () => {
    const frame = probeFrame({ src: SELF, dst: PEER, proto: 6, dport: 443 });
    const repeat = 1000;
    const entry = () => flowEntries().find((e) => e.key.peerAddr === PEER && e.key.peerPort === 443);
    const counters = () => abi.decodeCounters(n.mapDump(dp.maps.counters), n.possibleCpus());
    const before = counters();
    expect(n.progTestRun(dp.programs.fromPod, frame, repeat, ctx(true)).retval).toBe(abi.TcAction.ALLOW);
    expect(entry(), 'a probe makes no flow entry').toBeUndefined();
    expect(counters()).toEqual(before);
    // positive control: the same frame, not a probe, is counted once per run
    expect(n.progTestRun(dp.programs.fromPod, frame, repeat, ctx(false)).retval).toBe(abi.TcAction.ALLOW);
    expect(entry()?.value.packets).toEqual([BigInt(repeat), 0n]);
    expect(counters()).not.toEqual(before);
  });
});
