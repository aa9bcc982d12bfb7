// One agent's WhatIf answer (src/api/whatif.ts) over a synthetic cluster and
// flow history, timed: parse + upsert + full compile of the proposed state +
// replay of every flow under both states. Pure CPU, no kernel: not part of
// `make bench`, for sizing the call (how long an agent is busy answering).
//
//   node bench/whatif-replay.mjs [<namespaces>=100] [<pods per namespace>=100] [<flows>=100000] [<runs>=5]
//
// Needs dist/ (`make build`). The cluster: namespaces ns0..nsN-1, the even
// ones isolated, pods with one IPv4 address each on node n1; the flows: random
// pod pairs, TCP to 8080, each opened by its source. The proposal isolates
// ns1 (an odd, open namespace). Prints per run the milliseconds and the
// changes found, then the median.
import { performance } from 'node:perf_hooks';
import { compile } from '../dist/model/compile.js';
import { emptyAllocation } from '../dist/model/vrf.js';
import { whatIf } from '../dist/api/whatif.js';

const [nsCount = 100, perNs = 100, flowCount = 100_000, runs = 5] = process.argv.slice(2).map(Number);
const config = { nodeName: 'n1', podCIDRs: ['10.0.0.0/8'], serviceCIDRs: ['172.30.0.0/16'] };

const namespaces = new Map();
const pods = new Map();
const podList = [];
for (let n = 0; n < nsCount; n++) {
  const name = `ns${n}`;
  namespaces.set(name, { kind: 'Namespace', metadata: { name, labels: n % 2 === 0 ? { 'vrfwall.dev/isolated': 'true' } : {}, annotations: {} } });
  for (let p = 0; p < perNs; p++) {
    const ip = `10.${Math.floor(n / 256)}.${n % 256}.${p + 1}`;
    const pod = { kind: 'Pod', metadata: { name: `p${p}`, namespace: name, labels: {}, annotations: {} }, spec: { nodeName: 'n1', hostNetwork: false, ports: [] }, status: { podIPs: [ip] } };
    pods.set(`${name}/p${p}`, pod);
    podList.push({ ns: name, pod: `p${p}`, ip, network: n % 2 === 0 ? `${name}/default-podnetwork` : 'default/default-podnetwork' });
  }
}
for (const n of ['default', 'kube-system']) namespaces.set(n, { kind: 'Namespace', metadata: { name: n, labels: {}, annotations: {} } });
const state = { namespaces, pods, nodes: new Map([['n1', { name: 'n1', addresses: ['192.168.0.1'] }]]), virtualNetworks: new Map(), routers: new Map(), services: new Map(), endpointSlices: new Map(), attachmentDefinitions: new Map(), problems: [] };
const desired = compile(state, config, new Map(), emptyAllocation());

// mulberry32: a fixed, well-spread sequence (a plain LCG's low bits repeat: few distinct pairs)
let seed = 1;
function rand(n) {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return (((t ^ (t >>> 14)) >>> 0) % n);
}
const ep = (p, port) => ({ ip: p.ip, port, namespace: p.ns, pod: p.pod, network: p.network, node: 'n1', service: '', kind: 'pod', interface: '' });
const now = Date.now();
const flows = [];
for (let i = 0; i < flowCount; i++) {
  const a = podList[rand(podList.length)];
  const b = podList[rand(podList.length)];
  const c = { packets: 3, bytes: 300, droppedPackets: 0, tcpFlags: 0 };
  flows.push({ id: String(i), node: 'n1', ifindex: 5, source: ep(a, 30000 + (i % 30000)), destination: ep(b, 8080), protocol: 6, protocolName: 'tcp', ethertype: 0x800, direction: 'EGRESS', verdict: 'ALLOWED', dropReason: '', allowRule: 'SAME_NETWORK', code: 1, forward: c, reverse: c, firstSeenMs: now, lastSeenMs: now });
}
const sources = { node: 'n1', podCIDRs: config.podCIDRs, serviceCIDRs: config.serviceCIDRs, current: () => ({ state, desired }), flows: () => flows, now: () => now };
const documents = [{ file: 'isolate.yaml', text: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns1\n  labels:\n    vrfwall.dev/isolated: "true"\n' }];

const times = [];
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const res = whatIf(sources, { documents, windowSeconds: 0 });
  const ms = performance.now() - t0;
  times.push(ms);
  console.log(`run ${r + 1}: ${ms.toFixed(0)} ms, ${res.conversations} conversations replayed, ${res.changes.length} changes, ${res.groups.length} groups`);
}
times.sort((a, b) => a - b);
console.log(`${podList.length} pods, ${flowCount} flows: median ${times[Math.floor(times.length / 2)].toFixed(0)} ms`);
