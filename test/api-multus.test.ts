// Secondary interfaces in what the agent tells (issue 14): the flow
// directory, flows, `endpoints`, `networks` and `explain` name the
// interface ("ns/pod@eth1") and its network. Pure: a directory built from
// the compile step's output; the same StateService handlers the server runs.
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { Direction, DropReason, Verdict, type FlowValue } from '../src/kernel/abi.js';
import type { NativeAddon } from '../src/kernel/native.js';
import { compile } from '../src/model/compile.js';
import { DEFAULT_NETWORK, type ClusterConfig } from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { buildDirectory, Directory } from '../src/flows/directory.js';
import { flowFromKernel, MonoClock } from '../src/flows/enrich.js';
import { aggregate } from '../src/flows/aggregate.js';
import { compileFilter } from '../src/flows/filter.js';
import { podLabel } from '../src/flows/label.js';
import { resolve } from '../src/api/explain.js';
import { stateHandlers } from '../src/api/state-service.js';
import type { ListEndpointsResponse, ListNetworksResponse } from '../src/api/messages.js';
import { cluster, isolatedNs, multus, nad, pod, vn } from './helpers/cluster.js';

const config: ClusterConfig = { nodeName: 'n1', podCIDRs: ['10.244.0.0/16', '172.16.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] };
const state = cluster({
  namespaces: [isolatedNs('ns-iso')],
  virtualNetworks: [vn('default/vn1', { spec: { v4Subnet: '172.16.10.0/24' } }), vn('default/vn2', { spec: { v4Subnet: '172.16.20.0/24' } })],
  attachmentDefinitions: [nad('default/vn1'), nad('default/vn2')],
  pods: [
    pod('default/pod4', ['10.244.1.4'], { annotations: multus('vn1@eth1', ['10.244.1.4'], [{ name: 'default/vn1', interface: 'eth1', ips: ['172.16.10.3'] }]) }),
    pod('default/vn2-pod', ['10.244.2.6'], { node: 'n2', annotations: multus('vn2@net1', ['10.244.2.6'], [{ name: 'default/vn2', interface: 'net1', ips: ['172.16.20.6'] }]) }),
  ],
  nodes: { n1: ['192.168.50.1'], n2: ['192.168.50.2'] },
});
// pod4's eth0 on host-side interface 11, its eth1 on 12.
const IFACES = new Map([
  ['10.244.1.4', 11],
  ['172.16.10.3', 12],
]);
const desired = compile(state, config, IFACES, emptyAllocation());
const dir = buildDirectory(state, desired, 'n1');

function value(o: Partial<FlowValue>): FlowValue {
  return { firstNs: 1n, lastNs: 2n, eventTick: 0, cache: 0n, packets: [1n, 0n], bytes: [60n, 0n], drops: [0n, 0n], verdict: Verdict.ALLOWED, code: 0, lastDir: 0, firstDir: 0, tcpFlags: [0, 0], ...o };
}

/** The StateService handlers over this directory (no programs: Explain is not asked here). */
function call<T>(method: string, req: unknown): Promise<T> {
  const h = stateHandlers({ node: 'n1', directory: () => dir, status: () => ({}) as never, programs: () => undefined }, {} as NativeAddon);
  return new Promise((ok, fail) => {
    (h[method] as (c: unknown, cb: grpc.sendUnaryData<T>) => void)({ request: req }, (err, res) => (err ? fail(err) : ok(res as T)));
  });
}

describe('the directory names the interface and its network', () => {
  it("a secondary address is its pod's, on that interface, in the interface's network", () => {
    expect(dir.lookup('172.16.10.3')).toMatchObject({ kind: 'pod', namespace: 'default', pod: 'pod4', interface: 'eth1', network: 'default/vn1', local: true, ifindex: 12, quarantined: false });
    expect(dir.lookup('10.244.1.4')).toMatchObject({ pod: 'pod4', interface: '', network: DEFAULT_NETWORK, ifindex: 11 });
    expect(dir.lookup('172.16.20.6')).toMatchObject({ pod: 'vn2-pod', interface: 'net1', network: 'default/vn2', local: false, node: 'n2' });
    expect(dir.podByIfindex.get(12)).toEqual({ namespace: 'default', pod: 'pod4', interface: 'eth1', network: 'default/vn1' });
    expect(dir.podByIfindex.get(11)).toEqual({ namespace: 'default', pod: 'pod4', interface: '', network: DEFAULT_NETWORK });
    expect(dir.networks.get('default/vn1')?.pods).toEqual(['default/pod4@eth1']);
    expect(dir.networks.get(DEFAULT_NETWORK)?.pods).toEqual(['default/pod4', 'default/vn2-pod']);
  });

  it('updated from the compile delta: the attachment gone from network-status, its names go', () => {
    const d = new Directory();
    d.update(state, desired);
    const next = cluster({ ...{ namespaces: [isolatedNs('ns-iso')] }, virtualNetworks: [...state.virtualNetworks.values()], attachmentDefinitions: [...state.attachmentDefinitions.values()], pods: [pod('default/pod4', ['10.244.1.4'], { annotations: multus('vn1@eth1', ['10.244.1.4'], []) }), state.pods.get('default/vn2-pod')!], nodes: { n1: ['192.168.50.1'], n2: ['192.168.50.2'] } });
    const after = compile(next, config, IFACES, desired.allocation);
    const delta = { endpoints: new Set(['172.16.10.3']), vrfPairs: new Set<string>(), networks: new Set<number>(), cidrs: new Set<string>(), services: new Set<string>(), backends: new Set<string>(), ports: new Set<number>(), attach: new Set(['default/pod4@eth1']), placements: new Set(['default/pod4@eth1']), serviceAccess: new Set<string>(), policy: new Set<string>(), policyCidrs: new Set<string>() };
    d.update(next, after, delta, [{ kind: 'Pod', key: 'default/pod4' }]);
    expect(d.lookup('172.16.10.3')).toBeUndefined();
    expect(d.lookup('10.244.1.4')?.pod).toBe('pod4'); // positive control
    expect(d.networks.get('default/vn1')?.pods ?? []).toEqual([]);
    expect(d.podByIfindex.has(12)).toBe(false);
  });
});

describe('flows name the interface', () => {
  const clock = new MonoClock();
  it('a flow on eth1 names pod4@eth1; the spoof case (eth0 address sent out of eth1) still names the interface it came from', () => {
    const ok = flowFromKernel('f1', { selfAddr: '172.16.10.3', peerAddr: '172.16.20.6', ifindex: 12, selfPort: 40000, peerPort: 80, ethertype: 0x0800, proto: 6 }, value({ firstDir: Direction.FROM_POD }), dir, 'n1', clock);
    expect(ok.source).toMatchObject({ pod: 'pod4', interface: 'eth1', network: 'default/vn1' });
    expect(ok.destination).toMatchObject({ pod: 'vn2-pod', interface: 'net1', network: 'default/vn2' });
    expect(podLabel(ok.source)).toBe('default/pod4@eth1');
    const spoof = flowFromKernel('f2', { selfAddr: '10.244.1.4', peerAddr: '172.16.10.9', ifindex: 12, selfPort: 40000, peerPort: 80, ethertype: 0x0800, proto: 6 }, value({ firstDir: Direction.FROM_POD, verdict: Verdict.DROPPED, code: DropReason.SPOOFED }), dir, 'n1', clock);
    expect(spoof.dropReason).toBe('SPOOFED');
    expect(spoof.source).toMatchObject({ ip: '10.244.1.4', pod: 'pod4', interface: 'eth1', network: 'default/vn1' });
    // Grouped and filtered by "ns/pod@ifname"; a "ns/pod" prefix still takes every interface of the pod.
    expect(aggregate([ok], 'POD', 'FLOWS', 10).map((g) => `${g.source} -> ${g.destination}`)).toEqual(['default/pod4@eth1 -> default/vn2-pod@net1']);
    expect(compileFilter({ sourcePod: ['default/pod4@eth1'] }, 'f')(ok)).toBe(true);
    expect(compileFilter({ sourcePod: ['default/pod4'] }, 'f')(ok)).toBe(true);
    expect(compileFilter({ sourcePod: ['default/pod4@eth2'] }, 'f')(ok)).toBe(false);
  });
});

describe('StateService and explain name the interface', () => {
  it('ListEndpoints carries the interface; ListNetworks lists pod@ifname members', async () => {
    const eps = await call<ListEndpointsResponse>('ListEndpoints', { namespace: 'default', network: '', localOnly: false });
    expect(eps.endpoints.filter((e) => e.pod === 'pod4').map((e) => [e.ip, e.interface, e.network, e.ifindex])).toEqual([
      ['10.244.1.4', '', DEFAULT_NETWORK, 11],
      ['172.16.10.3', 'eth1', 'default/vn1', 12],
    ]);
    const nets = await call<ListNetworksResponse>('ListNetworks', {});
    expect(nets.networks.find((n) => n.name === 'default/vn1')?.pods).toEqual(['default/pod4@eth1']);
  });

  it('explain resolves "ns/pod@eth1" to that interface\'s address, "ns/pod" to the cluster-network one', () => {
    expect(resolve(dir, 'default/pod4@eth1', 'source', undefined).map((s) => s.ip)).toEqual(['172.16.10.3']);
    expect(resolve(dir, 'default/pod4', 'source', undefined).map((s) => s.ip)).toEqual(['10.244.1.4']);
    expect(resolve(dir, 'default/vn2-pod@net1', 'destination', undefined).map((s) => s.info?.network)).toEqual(['default/vn2']);
    expect(() => resolve(dir, 'default/pod4@eth9', 'source', undefined)).toThrow(/no pod default\/pod4 with an interface eth9/);
    expect(() => resolve(dir, 'default/pod4@', 'source', undefined)).toThrow(/is not "namespace\/pod\[@interface\]"/);
    expect(() => resolve(dir, 'default/pod4@a@b', 'source', undefined)).toThrow(/is not "namespace\/pod\[@interface\]"/);
  });
});
