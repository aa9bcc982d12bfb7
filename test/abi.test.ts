// The ABI check: a host C program built from bpf/vrfwall.h prints what the
// compiler thinks (enum values, constants, struct sizes and offsets, sample
// encodings); src/kernel/abi.ts must agree byte for byte.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as abi from '../src/kernel/abi.js';

const repo = path.resolve(import.meta.dirname, '..');

interface CFacts {
  enums: Record<string, number>;
  consts: Record<string, number>;
  sizes: Record<string, number>;
  offsets: Record<string, number>;
  fieldSizes: Record<string, number>;
  counterIndex: number[];
  samples: Record<string, string>;
}

const ENUMS: { prefix: string; table: Record<string, number>; max?: string; count?: number }[] = [
  { prefix: 'VW_DIR_', table: abi.Direction, max: 'VW_DIR__MAX', count: abi.DIRECTION_COUNT },
  { prefix: 'VW_VERDICT_', table: abi.Verdict, max: 'VW_VERDICT__MAX', count: abi.VERDICT_COUNT },
  { prefix: 'VW_RULE_', table: abi.AllowRule, max: 'VW_RULE__MAX', count: abi.ALLOW_RULE_COUNT },
  { prefix: 'VW_DROP_', table: abi.DropReason, max: 'VW_DROP__MAX', count: abi.DROP_REASON_COUNT },
  { prefix: 'VW_CIDR_', table: abi.CidrKind },
  { prefix: 'VW_EVENT_', table: abi.FlowEventType },
  { prefix: 'VW_FSTAT_', table: abi.FlowStat, max: 'VW_FSTAT__MAX', count: abi.FLOW_STAT_COUNT },
];

/** Every struct the ABI check compares (flow structs live in their own table). */
const LAYOUT: Record<string, { size: number; fields: Record<string, number> }> = { ...abi.Layout, ...abi.FlowLayout };

const CONSTS: Record<string, number> = {
  VW_ADDR_LEN: abi.VW_ADDR_LEN,
  VW_EP_LOCAL: abi.VW_EP_LOCAL,
  VW_EP_HOST: abi.VW_EP_HOST,
  VW_EP_QUARANTINE: abi.VW_EP_QUARANTINE,
  VW_EP_PTP: abi.VW_EP_PTP,
  VW_EP_NO_BACKEND: abi.VW_EP_NO_BACKEND,
  VW_EP_THIS_NODE: abi.VW_EP_THIS_NODE,
  VW_NET_EXTERNAL_DENY: abi.VW_NET_EXTERNAL_DENY,
  VW_NET_AUDIT: abi.VW_NET_AUDIT,
  VW_NET_OPEN: abi.VW_NET_OPEN,
  VW_CODE_SLOTS: abi.VW_CODE_SLOTS,
  VW_COUNTERS_MAX: abi.VW_COUNTERS_MAX,
  VW_ENDPOINTS_MAX: abi.VW_ENDPOINTS_MAX,
  VW_VRF_PAIRS_MAX: abi.VW_VRF_PAIRS_MAX,
  VW_NETWORKS_MAX: abi.VW_NETWORKS_MAX,
  VW_CIDRS_MAX: abi.VW_CIDRS_MAX,
  VW_MAC_LEN: abi.VW_MAC_LEN,
  VW_PORTS_MAX: abi.VW_PORTS_MAX,
  VW_FLOWS_MAX: abi.VW_FLOWS_MAX,
  VW_FLOW_PROBES: abi.VW_FLOW_PROBES,
  VW_FLOW_EVENT_TICK_SHIFT: abi.VW_FLOW_EVENT_TICK_SHIFT,
  VW_CACHE_TICK_SHIFT: abi.VW_CACHE_TICK_SHIFT,
  VW_CACHE_STATE_MASK: abi.VW_CACHE_STATE_MASK,
  VW_CACHE_ALLOWED: abi.VW_CACHE_ALLOWED,
  VW_CACHE_DROPPED: abi.VW_CACHE_DROPPED,
  VW_CACHE_TIMED: abi.VW_CACHE_TIMED,
  VW_CACHE_CODE_SHIFT: abi.VW_CACHE_CODE_SHIFT,
  VW_CACHE_CODE_MASK: abi.VW_CACHE_CODE_MASK,
  VW_CACHE_AUDIT: abi.VW_CACHE_AUDIT,
  VW_CFG_AUDIT: abi.VW_CFG_AUDIT,
  VW_FLOW_RINGBUF_SIZE: abi.VW_FLOW_RINGBUF_SIZE,
  VW_FLOW_EVENT_INTERVAL_NS: abi.VW_FLOW_EVENT_INTERVAL_NS,
  VW_FLOW_EVENT_POLL_MS: abi.VW_FLOW_EVENT_POLL_MS,
  VW_FLOW_RINGBUF_WAKE_BYTES: abi.VW_FLOW_RINGBUF_WAKE_BYTES,
  VW_PROBE_MAGIC: abi.VW_PROBE_MAGIC,
  VW_SVC_ANY_VRF: abi.VW_SVC_ANY_VRF,
  VW_SVC_FRONTEND_VRF: abi.VW_SVC_FRONTEND_VRF,
  VW_SVC_AUDIT_VRF: abi.VW_SVC_AUDIT_VRF,
  VW_TUNNEL_PORT_VXLAN: abi.VW_TUNNEL_PORT_VXLAN,
  VW_TUNNEL_PORT_VXLAN_LINUX: abi.VW_TUNNEL_PORT_VXLAN_LINUX,
  VW_TUNNEL_PORT_GENEVE: abi.VW_TUNNEL_PORT_GENEVE,
  VW_SVC_SHARED: abi.VW_SVC_SHARED,
  VW_SVC_ROUTER: abi.VW_SVC_ROUTER,
  VW_SVC_AUDIT: abi.VW_SVC_AUDIT,
  VW_SERVICES_MAX: abi.VW_SERVICES_MAX,
  VW_BACKENDS_MAX: abi.VW_BACKENDS_MAX,
  VW_SESSIONS_MAX: abi.VW_SESSIONS_MAX,
  VW_SESSION_OWNERS_MAX: abi.VW_SESSION_OWNERS_MAX,
  VW_SESS_REPLIED: abi.VW_SESS_REPLIED,
  VW_SESS_FIN_FWD: abi.VW_SESS_FIN_FWD,
  VW_SESS_FIN_REV: abi.VW_SESS_FIN_REV,
  VW_SESS_RST: abi.VW_SESS_RST,
  VW_SESS_POLICY: abi.VW_SESS_POLICY,
  VW_SESS_CHARGE_SERVER: abi.VW_SESS_CHARGE_SERVER,
  VW_POLICY_RANGES: abi.VW_POLICY_RANGES,
  VW_POLICY_SLOTS: abi.VW_POLICY_SLOTS,
  VW_POLICY_ANY_PROTO: abi.VW_POLICY_ANY_PROTO,
  VW_POLICY_MORE: abi.VW_POLICY_MORE,
  VW_POLICY_CIDR_PREFIX_BITS: abi.VW_POLICY_CIDR_PREFIX_BITS,
  VW_POLICY_MAX: abi.VW_POLICY_MAX,
  VW_POLICY_CIDRS_MAX: abi.VW_POLICY_CIDRS_MAX,
  VW_DEFAULT_TCP_SYN_TIMEOUT_NS: Number(abi.VW_DEFAULT_TCP_SYN_TIMEOUT_NS),
  VW_DEFAULT_TCP_ESTABLISHED_TIMEOUT_NS: Number(abi.VW_DEFAULT_TCP_ESTABLISHED_TIMEOUT_NS),
  VW_DEFAULT_TCP_CLOSING_TIMEOUT_NS: Number(abi.VW_DEFAULT_TCP_CLOSING_TIMEOUT_NS),
  VW_DEFAULT_UDP_TIMEOUT_NS: Number(abi.VW_DEFAULT_UDP_TIMEOUT_NS),
  VW_DEFAULT_OTHER_TIMEOUT_NS: Number(abi.VW_DEFAULT_OTHER_TIMEOUT_NS),
  VW_DEFAULT_SESSION_QUOTA: abi.VW_DEFAULT_SESSION_QUOTA,
};

// Sample values; the C side fills the structs with the same numbers.
const EP = {
  vrfId: 0x01020304,
  flags: abi.VW_EP_LOCAL | abi.VW_EP_QUARANTINE,
  ifindex: 0x0a0b0c0d,
  identity: 0x11223344,
  policyIn: 0x00000101,
  policyOut: 0x7fff0001,
};
const POLICY_KEY: abi.PolicyKey = { set: 0x00010002, identity: 0xfffffff0, proto: 132, slot: 3 };
const POLICY_VALUE: abi.PolicyValue = { flags: abi.VW_POLICY_MORE, ranges: [{ lo: 80, hi: 81 }, { lo: 8000, hi: 65535 }] };
const POLICY_CIDR: abi.PolicyCidrKey = { set: 9, proto: 6, slot: 1, cidr: '192.168.0.0/16' };
const POLICY_CIDR6: abi.PolicyCidrKey = { set: 9, proto: 0, slot: 0, cidr: 'fd00:10:244::/48' };
const PAIR = { srcVrf: 7, dstVrf: 0x01000002 };
const FK: abi.FlowKey = { selfAddr: '10.244.1.10', peerAddr: 'fd00::2', ifindex: 77, selfPort: 40000, peerPort: 53, ethertype: 0x0800, proto: 17 };
const SVC_KEY = { addr: '10.96.0.10', port: 53, protocol: 'UDP', clientVrf: 0x00010203 } as const;
const SVC_VALUE = { svcVrf: 0x0a0b0c0d, flags: abi.VW_SVC_SHARED | abi.VW_SVC_ROUTER };
const PORT = { mac: '02:1a:b2:c3:d4:e5' };
const SESSION_KEY = { saddr: 'fd00:10:244:1::10', daddr: 'fd00:10:96::a', sport: 40000, dport: 443, protocol: 'SCTP' } as const;

/** The C source, generated from the TS tables: a name TS has and C lacks fails to compile. */
function cProgram(): string {
  const lines: string[] = [];
  const kv = (key: string, expr: string) =>
    lines.push(`  printf("%s\\"${key}\\": %lld", sep(), (long long)(${expr}));`);
  lines.push('#include <stdio.h>', '#include <stddef.h>', '#include <string.h>', '#include <arpa/inet.h>');
  lines.push('#include "vrfwall.h"');
  lines.push('static int first = 1;');
  lines.push('static const char *sep(void) { const char *s = first ? "" : ","; first = 0; return s; }');
  lines.push('static void hex(const char *name, const void *p, size_t n) {');
  lines.push('  const unsigned char *b = p; printf("%s\\"%s\\": \\"", sep(), name);');
  lines.push('  for (size_t i = 0; i < n; i++) printf("%02x", b[i]);');
  lines.push('  printf("\\"");');
  lines.push('}');
  lines.push('static void v4mapped(__u8 *out, const char *txt) {');
  lines.push('  memset(out, 0, 16); out[10] = out[11] = 0xff; inet_pton(AF_INET, txt, out + 12);');
  lines.push('}');
  lines.push('int main(void) {');

  lines.push('  printf("{\\"enums\\": {"); first = 1;');
  for (const e of ENUMS) {
    for (const name of Object.keys(e.table)) kv(e.prefix + name, e.prefix + name);
    if (e.max) kv(e.max, e.max);
  }
  lines.push('  printf("}, \\"consts\\": {"); first = 1;');
  for (const name of Object.keys(CONSTS)) kv(name, name);

  lines.push('  printf("}, \\"sizes\\": {"); first = 1;');
  for (const s of Object.keys(LAYOUT)) kv(s, `sizeof(struct ${s})`);
  lines.push('  printf("}, \\"offsets\\": {"); first = 1;');
  for (const [s, l] of Object.entries(LAYOUT)) {
    for (const f of Object.keys(l.fields)) kv(`${s}.${f}`, `offsetof(struct ${s}, ${f})`);
  }
  lines.push('  printf("}, \\"fieldSizes\\": {"); first = 1;');
  for (const [s, l] of Object.entries(LAYOUT)) {
    for (const f of Object.keys(l.fields)) kv(`${s}.${f}`, `sizeof(((struct ${s} *)0)->${f})`);
  }

  lines.push('  printf("}, \\"counterIndex\\": ["); first = 1;');
  lines.push('  for (__u32 d = 0; d < VW_DIR__MAX; d++) for (__u32 v = 0; v < VW_VERDICT__MAX; v++)');
  lines.push('    for (__u32 c = 0; c < VW_CODE_SLOTS; c++) printf("%s%u", sep(), vw_counter_index(d, v, c));');

  lines.push('  printf("], \\"samples\\": {"); first = 1;');
  lines.push(`  struct vw_endpoint ep = { .vrf_id = ${EP.vrfId}u, .flags = ${EP.flags}u, .ifindex = ${EP.ifindex}u,`);
  lines.push(`    .identity = ${EP.identity}u, .policy_in = ${EP.policyIn}u, .policy_out = ${EP.policyOut}u };`);
  lines.push(`  struct vw_policy_key pk2 = { .set = ${POLICY_KEY.set}u, .identity = ${POLICY_KEY.identity}u, .proto = ${POLICY_KEY.proto}, .slot = ${POLICY_KEY.slot} };`);
  lines.push('  hex("policy_key", &pk2, sizeof(pk2));');
  lines.push('  struct vw_policy_value pv; memset(&pv, 0, sizeof(pv)); pv.n = 2; pv.flags = VW_POLICY_MORE;');
  lines.push('  pv.r[0].lo = 80; pv.r[0].hi = 81; pv.r[1].lo = 8000; pv.r[1].hi = 65535; hex("policy_value", &pv, sizeof(pv));');
  lines.push('  struct vw_policy_cidr_key pc4, pc6; memset(&pc4, 0, sizeof(pc4)); memset(&pc6, 0, sizeof(pc6));');
  lines.push('  pc4.prefixlen = VW_POLICY_CIDR_PREFIX_BITS + 96 + 16; pc4.set = 9; pc4.proto = IPPROTO_TCP; pc4.slot = 1;');
  lines.push('  v4mapped(pc4.addr, "192.168.0.0"); hex("policy_cidr_v4", &pc4, sizeof(pc4));');
  lines.push('  pc6.prefixlen = VW_POLICY_CIDR_PREFIX_BITS + 48; pc6.set = 9; inet_pton(AF_INET6, "fd00:10:244::", pc6.addr);');
  lines.push('  hex("policy_cidr_v6", &pc6, sizeof(pc6));');
  lines.push('  hex("endpoint", &ep, sizeof(ep));');
  lines.push(`  struct vw_vrf_pair pair = { .src_vrf = ${PAIR.srcVrf}u, .dst_vrf = ${PAIR.dstVrf}u };`);
  lines.push('  hex("vrf_pair", &pair, sizeof(pair));');
  lines.push('  struct vw_network net = { .flags = VW_NET_EXTERNAL_DENY }; hex("network", &net, sizeof(net));');
  lines.push('  __u32 vrf = 0x00abcdef; hex("network_key", &vrf, sizeof(vrf));');
  lines.push(`  struct vw_port port = { .mac = { ${PORT.mac.split(':').map((h) => `0x${h}`).join(', ')} } };`);
  lines.push('  hex("port", &port, sizeof(port)); __u32 pk = 0x0a0b0c0d; hex("port_key", &pk, sizeof(pk));');
  lines.push('  struct vw_cidr_value cv = { .kind = VW_CIDR_SERVICE }; hex("cidr_value", &cv, sizeof(cv));');
  lines.push('  struct vw_endpoint_key k4, k6; v4mapped(k4.addr, "10.244.1.10");');
  lines.push('  inet_pton(AF_INET6, "fd00:10:244:1::10", k6.addr);');
  lines.push('  hex("key_v4", &k4, sizeof(k4)); hex("key_v6", &k6, sizeof(k6));');
  lines.push('  struct vw_cidr_key c4 = { .prefixlen = 96 + 16 }, c6 = { .prefixlen = 48 };');
  lines.push('  v4mapped(c4.addr, "10.244.0.0"); inet_pton(AF_INET6, "fd00:10:244::", c6.addr);');
  lines.push('  hex("cidr_v4", &c4, sizeof(c4)); hex("cidr_v6", &c6, sizeof(c6));');
  lines.push('  struct vw_svc_key sk = { .port = htons(53), .proto = IPPROTO_UDP, .client_vrf = 0x00010203u };');
  lines.push('  v4mapped(sk.addr, "10.96.0.10"); hex("svc_key", &sk, sizeof(sk));');
  lines.push('  struct vw_svc_value sv = { .svc_vrf = 0x0a0b0c0du, .flags = VW_SVC_SHARED | VW_SVC_ROUTER };');
  lines.push('  hex("svc_value", &sv, sizeof(sv));');
  lines.push('  struct vw_session_key ss = { .sport = htons(40000), .dport = htons(443), .proto = IPPROTO_SCTP };');
  lines.push('  inet_pton(AF_INET6, "fd00:10:244:1::10", ss.saddr); inet_pton(AF_INET6, "fd00:10:96::a", ss.daddr);');
  lines.push('  hex("session_key", &ss, sizeof(ss));');
  lines.push('  struct vw_session sv2 = { .last_seen_ns = 0x0102030405060708ull, .rule = VW_RULE_SERVICE, .flags = VW_SESS_REPLIED | VW_SESS_RST };');
  lines.push('  hex("session", &sv2, sizeof(sv2));');
  lines.push('  struct vw_config cfg = { .tcp_syn_timeout_ns = 1, .tcp_established_timeout_ns = 2, .tcp_closing_timeout_ns = 3,');
  lines.push('    .udp_timeout_ns = 4, .other_timeout_ns = 0x0102030405060708ull, .session_quota = 77, .probe_key = 0xfeedbeef, .flags = VW_CFG_AUDIT };');
  lines.push('  hex("config", &cfg, sizeof(cfg));');
  lines.push('  struct vw_flow_key fk; memset(&fk, 0, sizeof(fk)); v4mapped(fk.self_addr, "10.244.1.10");');
  lines.push(`  inet_pton(AF_INET6, "fd00::2", fk.peer_addr); fk.ifindex = ${FK.ifindex}; fk.self_port = ${FK.selfPort};`);
  lines.push(`  fk.peer_port = ${FK.peerPort}; fk.ethertype = ${FK.ethertype}; fk.proto = ${FK.proto}; hex("flow_key", &fk, sizeof(fk));`);
  lines.push('  struct vw_flow fv = { .key = fk, .first_ns = 1, .last_ns = 2, .event_tick = 3, .cache = 0x0102030405060708ull,');
  lines.push('    .passed = {4, 5}, .bytes = {6, 7},');
  lines.push('    .drops = {8, 9}, .verdict = 1, .code = 3, .last_dir = 1, .first_dir = 0, .tcp_flags = {0x12, 0x02} };');
  lines.push('  hex("flow", &fv, sizeof(fv));');
  lines.push('  struct vw_flow_event ev; memset(&ev, 0, sizeof(ev)); ev.key = fk; ev.type = VW_EVENT_DROP; ev.dir = 1;');
  lines.push('  ev.verdict = 1; ev.code = 4; ev.len = 98; ev.ts_ns = 123456789012ULL; hex("flow_event", &ev, sizeof(ev));');
  lines.push('  printf("}}\\n");');
  lines.push('  return 0;');
  lines.push('}');
  return lines.join('\n') + '\n';
}

let tmp = '';
let c: CFacts;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-abi-'));
  const src = path.join(tmp, 'abi.c');
  const bin = path.join(tmp, 'abi');
  fs.writeFileSync(src, cProgram());
  execFileSync(process.env.CC ?? 'cc', ['-Wall', '-Werror', '-I', path.join(repo, 'bpf'), '-o', bin, src], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  c = JSON.parse(execFileSync(bin, { encoding: 'utf8' })) as CFacts;
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('vrfwall.h and abi.ts agree', () => {
  it('enum values, and no enumerator that TS does not know', () => {
    for (const e of ENUMS) {
      for (const [name, value] of Object.entries(e.table)) expect(c.enums[e.prefix + name], e.prefix + name).toBe(value);
      if (e.max) {
        expect(c.enums[e.max], e.max).toBe(e.count);
        expect(Object.keys(e.table)).toHaveLength(e.count ?? -1); // 0..MAX-1, all named
      }
    }
  });

  it('flags, limits and sizes of the counter space', () => {
    expect(c.consts).toEqual(CONSTS);
    expect(abi.DROP_REASON_COUNT).toBeLessThanOrEqual(abi.VW_CODE_SLOTS);
    expect(abi.ALLOW_RULE_COUNT).toBeLessThanOrEqual(abi.VW_CODE_SLOTS);
  });

  it('struct sizes and field offsets; the fields cover each struct exactly', () => {
    for (const [s, l] of Object.entries(LAYOUT)) {
      expect(c.sizes[s], `sizeof ${s}`).toBe(l.size);
      let next = 0;
      const fields = Object.entries(l.fields as Record<string, number>).sort((a, b) => a[1] - b[1]);
      for (const [f, off] of fields) {
        expect(c.offsets[`${s}.${f}`], `${s}.${f}`).toBe(off);
        expect(off, `${s}.${f} follows the previous field`).toBe(next);
        next = off + (c.fieldSizes[`${s}.${f}`] ?? NaN);
      }
      expect(next, `${s} has no field TS does not know`).toBe(l.size);
    }
  });

  it('vw_counter_index for every slot', () => {
    const ts: number[] = [];
    for (let d = 0; d < abi.DIRECTION_COUNT; d++)
      for (let v = 0; v < abi.VERDICT_COUNT; v++)
        for (let code = 0; code < abi.VW_CODE_SLOTS; code++) ts.push(abi.counterIndex(d, v, code));
    expect(ts).toEqual(c.counterIndex);
    expect(Math.max(...ts)).toBe(abi.VW_COUNTERS_MAX - 1);
    for (const i of ts) {
      const slot = abi.counterSlot(i);
      expect(abi.counterIndex(slot.direction, slot.verdict, slot.code)).toBe(i);
    }
  });

  it('encoders produce the bytes the C structs hold', () => {
    const hex = (b: Buffer) => b.toString('hex');
    expect(hex(abi.encodeEndpoint(EP))).toBe(c.samples.endpoint);
    expect(hex(abi.encodeVrfPair(PAIR))).toBe(c.samples.vrf_pair);
    expect(hex(abi.encodeNetwork({ flags: abi.VW_NET_EXTERNAL_DENY }))).toBe(c.samples.network);
    expect(hex(abi.encodeNetworkKey(0x00abcdef))).toBe(c.samples.network_key);
    expect(hex(abi.encodePort(PORT))).toBe(c.samples.port);
    expect(hex(abi.encodePortKey(0x0a0b0c0d))).toBe(c.samples.port_key);
    expect(hex(abi.encodeCidrValue({ kind: abi.VW_CIDR_SERVICE }))).toBe(c.samples.cidr_value);
    expect(hex(abi.encodeEndpointKey('10.244.1.10'))).toBe(c.samples.key_v4);
    expect(hex(abi.encodeEndpointKey('fd00:10:244:1::10'))).toBe(c.samples.key_v6);
    expect(hex(abi.encodeCidrKey('10.244.0.0/16'))).toBe(c.samples.cidr_v4);
    expect(hex(abi.encodeCidrKey('fd00:10:244::/48'))).toBe(c.samples.cidr_v6);
    expect(hex(abi.encodeSvcKey(SVC_KEY))).toBe(c.samples.svc_key);
    expect(hex(abi.encodeSvcValue(SVC_VALUE))).toBe(c.samples.svc_value);
    expect(hex(abi.encodeSessionKey(SESSION_KEY))).toBe(c.samples.session_key);
    expect(abi.decodeSession(Buffer.from(c.samples.session ?? '', 'hex'))).toEqual({
      lastSeenNs: 0x0102030405060708n,
      rule: abi.AllowRule.SERVICE,
      flags: abi.VW_SESS_REPLIED | abi.VW_SESS_RST,
    });
    const cfg = {
      tcpSynTimeoutNs: 1n,
      tcpEstablishedTimeoutNs: 2n,
      tcpClosingTimeoutNs: 3n,
      udpTimeoutNs: 4n,
      otherTimeoutNs: 0x0102030405060708n,
      sessionQuota: 77,
      probeKey: 0xfeedbeef,
      flags: abi.VW_CFG_AUDIT,
    };
    expect(hex(abi.encodeConfig(cfg))).toBe(c.samples.config);
    expect(hex(abi.encodePolicyKey(POLICY_KEY))).toBe(c.samples.policy_key);
    expect(hex(abi.encodePolicyValue(POLICY_VALUE))).toBe(c.samples.policy_value);
    expect(hex(abi.encodePolicyCidrKey(POLICY_CIDR))).toBe(c.samples.policy_cidr_v4);
    expect(hex(abi.encodePolicyCidrKey(POLICY_CIDR6))).toBe(c.samples.policy_cidr_v6);
    expect(abi.decodeConfig(abi.encodeConfig(cfg))).toEqual(cfg);
  });
});

describe('abi.ts encoders and decoders', () => {
  it('round-trip every struct', () => {
    expect(abi.decodeEndpoint(abi.encodeEndpoint(EP))).toEqual(EP);
    expect(abi.decodeVrfPair(abi.encodeVrfPair(PAIR))).toEqual(PAIR);
    expect(abi.decodeVrfPairValue(abi.encodeVrfPairValue())).toEqual({ flags: 0 });
    expect(abi.decodeNetworkKey(abi.encodeNetworkKey(42))).toBe(42);
    expect(abi.decodeNetwork(abi.encodeNetwork({ flags: 1 }))).toEqual({ flags: 1 });
    expect(abi.decodePort(abi.encodePort(PORT))).toEqual(PORT);
    expect(abi.decodePort(abi.encodePort({ mac: 'AA:BB:CC:00:01:0F' }))).toEqual({ mac: 'aa:bb:cc:00:01:0f' });
    expect(abi.decodePortKey(abi.encodePortKey(7))).toBe(7);
    for (const bad of ['', '02:1a:b2:c3:d4', '02:1a:b2:c3:d4:e5:f6', '2:1a:b2:c3:d4:e5', 'zz:1a:b2:c3:d4:e5']) {
      expect(() => abi.encodePort({ mac: bad }), bad).toThrow(/not a MAC address/);
    }
    expect(abi.decodeCidrValue(abi.encodeCidrValue({ kind: abi.VW_CIDR_POD }))).toEqual({ kind: 1 });
    expect(abi.decodeSvcKey(abi.encodeSvcKey(SVC_KEY))).toEqual(SVC_KEY);
    expect(abi.decodeSvcValue(abi.encodeSvcValue(SVC_VALUE))).toEqual(SVC_VALUE);
    expect(abi.decodeSessionKey(abi.encodeSessionKey(SESSION_KEY))).toEqual(SESSION_KEY);
    expect(() => abi.encodeSvcKey({ ...SVC_KEY, port: 70000 })).toThrow(/bad port/);
    // an endpoint written without the policy fields (policy off, remote pods) has them 0: open
    expect(abi.decodeEndpoint(abi.encodeEndpoint({ vrfId: 1, flags: 0, ifindex: 0 }))).toEqual({
      vrfId: 1, flags: 0, ifindex: 0, identity: 0, policyIn: 0, policyOut: 0,
    });
  });

  it('policy keys, values and ipBlock keys round-trip; bad input throws', () => {
    expect(abi.decodePolicyKey(abi.encodePolicyKey(POLICY_KEY))).toEqual(POLICY_KEY);
    expect(abi.decodePolicyValue(abi.encodePolicyValue(POLICY_VALUE))).toEqual(POLICY_VALUE);
    expect(abi.decodePolicyCidrKey(abi.encodePolicyCidrKey(POLICY_CIDR))).toEqual(POLICY_CIDR);
    expect(abi.decodePolicyCidrKey(abi.encodePolicyCidrKey(POLICY_CIDR6))).toEqual(POLICY_CIDR6);
    // host bits cleared: one key per block
    expect(abi.encodePolicyCidrKey({ ...POLICY_CIDR, cidr: '192.168.7.9/16' }).equals(abi.encodePolicyCidrKey(POLICY_CIDR))).toBe(true);
    expect(abi.decodePolicyCidrKey(abi.encodePolicyCidrKey({ set: 1, proto: 0, slot: 0, cidr: '0.0.0.0/0' })).cidr).toBe('0.0.0.0/0');
    const tooMany = { ranges: Array.from({ length: abi.VW_POLICY_RANGES + 1 }, (_, i) => ({ lo: i * 2, hi: i * 2 })) };
    expect(() => abi.encodePolicyValue(tooMany)).toThrow(/at most 16/);
    expect(() => abi.encodePolicyValue({ ranges: [{ lo: 81, hi: 80 }] })).toThrow(/bad port range/);
    expect(() => abi.encodePolicyValue({ ranges: [{ lo: 1, hi: 65536 }] })).toThrow(/bad port range/);
    expect(() => abi.encodePolicyKey({ ...POLICY_KEY, slot: abi.VW_POLICY_SLOTS })).toThrow(/bad policy slot/);
    expect(() => abi.encodePolicyKey({ ...POLICY_KEY, proto: 1 as abi.PolicyProto })).toThrow(/bad policy protocol/);
    expect(() => abi.encodePolicyCidrKey({ ...POLICY_CIDR, cidr: '10.0.0.0/33' })).toThrow();
  });

  it('verdict cache entries decode by state (5-bit code: the policy drop reasons fit)', () => {
    const word = (fromPod: number, toPod: number): bigint => (BigInt(toPod) << 56n) | (BigInt(fromPod) << 48n) | 0x1234n;
    const e = (state: number, code: number, timed = false) => state | (timed ? abi.VW_CACHE_TIMED : 0) | (code << abi.VW_CACHE_CODE_SHIFT);
    const w = word(e(abi.VW_CACHE_DROPPED, abi.DropReason.POLICY_INGRESS, true), e(abi.VW_CACHE_AUDIT, abi.DropReason.ISOLATED));
    expect(abi.cacheEntry(w, abi.Direction.FROM_POD)).toEqual({ verdict: abi.Verdict.DROPPED, timed: true, code: 16 });
    expect(abi.cacheEntry(w, abi.Direction.TO_POD)).toEqual({ verdict: abi.Verdict.AUDIT, timed: false, code: 1 });
    expect(abi.cacheEntry(word(e(abi.VW_CACHE_ALLOWED, abi.AllowRule.REPLY), 0), abi.Direction.FROM_POD)?.verdict).toBe(abi.Verdict.ALLOWED);
    expect(abi.cacheEntry(word(0, 0), abi.Direction.TO_POD)).toBeUndefined();
  });

  it('addresses: IPv4-mapped keys, one canonical text per key', () => {
    expect(abi.addrToKey('10.0.0.1').toString('hex')).toBe('00000000000000000000ffff0a000001');
    expect(abi.keyToAddr(abi.addrToKey('10.0.0.1'))).toBe('10.0.0.1');
    expect(abi.canonicalAddr('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(abi.canonicalAddr('FD00:0:0::0001')).toBe('fd00::1');
    expect(abi.canonicalAddr('fe80::1')).toBe('fe80::1');
    for (const bad of ['10.1', '0x0a.0.0.1', 'fe80::1%eth0', '10.0.0.256', '', 'pod1']) {
      expect(() => abi.addrToKey(bad), bad).toThrow(/not an IP address/);
    }
  });

  it('CIDRs: IPv4 prefix + 96, host bits cleared, decoded back', () => {
    const k = abi.encodeCidrKey('10.244.3.4/16');
    expect(k.equals(abi.encodeCidrKey('10.244.0.0/16'))).toBe(true);
    expect(abi.decodeCidrKey(k)).toBe('10.244.0.0/16');
    expect(abi.decodeCidrKey(abi.encodeCidrKey('fd00:10:96::1/108'))).toBe('fd00:10:96::/108');
    expect(abi.decodeCidrKey(abi.encodeCidrKey('0.0.0.0/0'))).toBe('0.0.0.0/0');
    expect(abi.decodeCidrKey(abi.encodeCidrKey('::/0'))).toBe('::/0');
    for (const bad of ['10.0.0.0', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/x', 'x/8']) {
      expect(() => abi.encodeCidrKey(bad), bad).toThrow();
    }
  });

  it('map names: abi.ts MapName and FlowMapName are exactly the maps the datapath declares (SEC(".maps"))', () => {
    const sources = ['bpf', 'bpf/lib'].flatMap((d) =>
      fs.readdirSync(path.join(repo, d)).filter((f) => /\.[ch]$/.test(f)).map((f) => fs.readFileSync(path.join(repo, d, f), 'utf8')),
    );
    const declared = sources.flatMap((t) => [...t.matchAll(/^\}\s*(\w+)\s+SEC\("\.maps"\)/gm)].map((m) => m[1]!));
    expect(declared.length).toBeGreaterThan(10);
    expect([...Object.values(abi.MapName), ...Object.values(abi.FlowMapName)].sort()).toEqual([...declared].sort());
  });

  it('names of enums and counter slots', () => {
    expect(abi.dropReasonName(abi.DropReason.SOURCE_ROUTE)).toBe('SOURCE_ROUTE');
    expect(abi.allowRuleName(abi.AllowRule.ROUTER)).toBe('ROUTER');
    expect(abi.codeName(abi.Verdict.DROPPED, 4)).toBe('SPOOFED');
    expect(abi.codeName(abi.Verdict.ALLOWED, 4)).toBe('SERVICE_BACKEND');
    expect(abi.dropReasonName(99)).toBe('UNKNOWN_99');
  });

  it('per-CPU counters are summed over CPUs', () => {
    const cpus = 2;
    const idx = abi.counterIndex(abi.Direction.TO_POD, abi.Verdict.DROPPED, abi.DropReason.ISOLATED);
    const keys = abi.encodeCounterKey(idx);
    const values = Buffer.alloc(abi.Layout.vw_counter.size * cpus);
    // CPU 0: 3 packets, 300 bytes; CPU 1: 2 packets, 150 bytes (host endian)
    const le = os.endianness() === 'LE';
    const w = (v: bigint, at: number) => (le ? values.writeBigUInt64LE(v, at) : values.writeBigUInt64BE(v, at));
    w(3n, 0);
    w(300n, 8);
    w(2n, 16);
    w(150n, 24);
    const [entry] = abi.decodeCounters({ count: 1, keys, values }, cpus);
    expect(entry).toMatchObject({
      index: idx,
      direction: abi.Direction.TO_POD,
      verdict: abi.Verdict.DROPPED,
      code: abi.DropReason.ISOLATED,
      packets: 5n,
      bytes: 450n,
      name: 'to_pod/dropped/ISOLATED',
    });
  });
});

describe('flow structs (issue 5)', () => {
  it('flow key, flow and event bytes written by C decode to the same values', () => {
    const key = Buffer.from(c.samples.flow_key ?? '', 'hex');
    expect(abi.encodeFlowKey(FK).toString('hex')).toBe(c.samples.flow_key);
    expect(abi.decodeFlowKey(key)).toEqual(FK);
    const flow = Buffer.from(c.samples.flow ?? '', 'hex');
    const value = {
      firstNs: 1n, lastNs: 2n, eventTick: 3, cache: 0x0102030405060708n, packets: [12n, 14n], bytes: [6n, 7n], drops: [8n, 9n],
      verdict: 1, code: 3, lastDir: 1, firstDir: 0, tcpFlags: [0x12, 0x02],
    };
    expect(abi.decodeFlow(flow)).toEqual(value);
    expect(abi.decodeFlowSlot(flow)?.keyBytes.equals(key)).toBe(true);
    expect(abi.encodeFlow(FK, value as abi.FlowValue).equals(flow)).toBe(true);
    expect(abi.decodeFlowSlot(Buffer.alloc(flow.length))).toBeUndefined();
    const ev = abi.decodeFlowEvent(Buffer.from(c.samples.flow_event ?? '', 'hex'));
    expect(ev).toMatchObject({ key: FK, type: abi.FlowEventType.DROP, dir: 1, verdict: 1, code: 4, len: 98, tsNs: 123456789012n });
    expect(ev.keyBytes.equals(key)).toBe(true);
  });

  it('ring records split as the addon packs them', () => {
    const rec = (n: number, fill: number) => {
      const b = Buffer.alloc(8 + Math.ceil(n / 8) * 8);
      b.writeUInt32LE(n, 0); // x86/arm64 test hosts are little endian
      b.fill(fill, 8, 8 + n);
      return b;
    };
    if (os.endianness() !== 'LE') return;
    const parts = abi.splitRingRecords(Buffer.concat([rec(64, 1), rec(5, 2), rec(8, 3)]));
    expect(parts.map((p) => [p.length, p[0]])).toEqual([[64, 1], [5, 2], [8, 3]]);
    expect(() => abi.splitRingRecords(rec(64, 1).subarray(0, 40))).toThrow(/past the batch end/);
  });
});
