// Audit mode's fast path (issue 19 item 1, docs/audit.md): the kernel-reported ns per run of from_pod
// (BPF_PROG_TEST_RUN, gross: the empty program's cost included) for a conversation's steady packets (TCP ACK,
// decided from the verdict cache after the first), for a same-network pair, an enforced pair kept apart, the
// same pair audited by its networks' flags, and audited by the node-wide setting. Median of 7 rounds.
// Not part of `make bench`; needs root and `make build`:   node bench/audit-fastpath.mjs
import fs from 'node:fs';
import path from 'node:path';
const ROOT = path.resolve(import.meta.dirname, '..');
const abi = await import(path.join(ROOT, 'dist/kernel/abi.js'));
const { native } = await import(path.join(ROOT, 'dist/kernel/native.js'));
const { skbCtx } = await import(path.join(ROOT, 'dist/kernel/skb.js'));
const n = native();
const root = `/sys/fs/bpf/vrfwall/audfast${process.pid}`;
fs.mkdirSync(root, { recursive: true });
const objs = ['from_pod', 'to_pod', 'session_gc'].map((p) => n.loadObject(path.join(ROOT, `build/bpf/${p}.o`), { pinRoot: root, maxEntries: {} }));
const m = (name) => objs[0].maps[name];
const put = (map, k, v) => n.mapUpdate(m(map), k, v);
const cfg = (flags) => put('config', Buffer.alloc(4), abi.encodeConfig({ tcpSynTimeoutNs: 0n, tcpEstablishedTimeoutNs: 0n, tcpClosingTimeoutNs: 0n, udpTimeoutNs: 0n, otherTimeoutNs: 0n, sessionQuota: 0, probeKey: 1, flags }));
let epoch = 1;
const retire = () => put('cache_ctl', Buffer.alloc(4), abi.encodeCacheCtl({ epoch: ++epoch, flowSeed: 7 }));
cfg(0); retire();
put('cidrs', abi.encodeCidrKey('10.244.0.0/16'), abi.encodeCidrValue({ kind: abi.VW_CIDR_POD }));
const ep = (ip, vrfId, flags, ifindex) => put('endpoints', abi.encodeEndpointKey(ip), abi.encodeEndpoint({ vrfId, flags, ifindex }));
ep('10.244.1.10', 10, abi.VW_EP_LOCAL | abi.VW_EP_PTP | abi.VW_EP_NO_BACKEND, 1);
ep('10.244.1.20', 10, abi.VW_EP_NO_BACKEND, 0);
ep('10.244.2.10', 11, abi.VW_EP_NO_BACKEND, 0);
const net = (vrf, flags) => { put('networks', abi.encodeNetworkKey(vrf), abi.encodeNetwork({ flags })); retire(); };
const ip4 = (s) => Buffer.from(s.split('.').map(Number));
function frame(src, dst, sport, flags) {
  const eth = Buffer.alloc(14); eth.writeUInt16BE(0x0800, 12);
  const ip = Buffer.alloc(20); ip[0] = 0x45; ip.writeUInt16BE(40, 2); ip[8] = 64; ip[9] = 6; ip4(src).copy(ip, 12); ip4(dst).copy(ip, 16);
  const t = Buffer.alloc(20); t.writeUInt16BE(sport, 0); t.writeUInt16BE(8080, 2); t[12] = 0x50; t[13] = flags; t.writeUInt16BE(65535, 14);
  return Buffer.concat([eth, ip, t]);
}
const ctx = skbCtx(1);
const REPEAT = 200000, ROUNDS = 7;
let sport = 30000;
function measure(label, dst, setup) {
  setup();
  const vals = [];
  for (let r = 0; r < ROUNDS; r++) {
    const f = frame('10.244.1.10', dst, sport++, 0x10);
    const first = n.progTestRun(objs[0].programs.from_pod, f, 1, ctx); // makes the flow, caches the decision
    const res = n.progTestRun(objs[0].programs.from_pod, f, REPEAT, ctx);
    vals.push(res.duration);
    if (r === 0 && first.retval !== res.retval) throw new Error(`${label}: the first packet and the cached ones differ`);
  }
  vals.sort((a, b) => a - b);
  console.log(`${label}\tmedian ${vals[ROUNDS >> 1]} ns\t(min ${vals[0]}, max ${vals[ROUNDS - 1]})`);
}
try {
  measure('same network (ALLOWED)', '10.244.1.20', () => {});
  measure('enforced pair (DROPPED ISOLATED)', '10.244.2.10', () => { net(10, 0); net(11, 0); });
  measure('audited pair (AUDIT ISOLATED)', '10.244.2.10', () => { net(10, abi.VW_NET_AUDIT | abi.VW_NET_OPEN); net(11, abi.VW_NET_OPEN); });
  measure('node-wide audit (AUDIT ISOLATED)', '10.244.2.10', () => { net(10, 0); net(11, 0); cfg(abi.VW_CFG_AUDIT); retire(); });
} finally {
  for (const o of objs) for (const fd of [...Object.values(o.programs), ...Object.values(o.maps)]) n.closeFd(fd);
  fs.rmSync(root, { recursive: true, force: true });
}
