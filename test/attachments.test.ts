// Secondary interfaces (Multus, issue 14): which network each is in or why it
// is quarantined (src/model/attachments.ts), and what the compile step makes
// of them: endpoints, attach, placements, router pairs, address conflicts.
import { describe, expect, it } from 'vitest';
import { VW_EP_LOCAL, VW_EP_QUARANTINE } from '../src/kernel/abi.js';
import { networkSubnets, podAttachments, type AttachmentContext } from '../src/model/attachments.js';
import { compile } from '../src/model/compile.js';
import { IncrementalCompiler } from '../src/model/incremental.js';
import { DEFAULT_NETWORK, type ClusterConfig, type ClusterState, type DesiredState, type NetworkAttachmentDefinitionObject, type PodObject, type VirtualNetworkObject } from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { cluster, isolatedNs, multus, nad, pod, router, sel, vn } from './helpers/cluster.js';

// The secondary networks' ranges are pod ranges too (--pod-cidr), as the operator lists them.
const config: ClusterConfig = { nodeName: 'n1', podCIDRs: ['10.244.0.0/16', '172.16.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] };

const vn1 = vn('default/vn1', { labels: { router: 'r1' }, spec: { v4Subnet: '172.16.10.0/24' } });
const vn2 = vn('default/vn2', { labels: { router: 'r1' }, spec: { v4Subnet: '172.16.20.0/24' } });

function ctx(o: { nads?: NetworkAttachmentDefinitionObject[]; vns?: VirtualNetworkObject[] } = {}): AttachmentContext {
  const vns = o.vns ?? [vn1, vn2];
  return {
    networks: new Set([DEFAULT_NETWORK, ...vns.map((v) => `${v.metadata.namespace}/${v.metadata.name}`)]),
    noPods: new Set(vns.filter((v) => !v.spec.podNetwork).map((v) => `${v.metadata.namespace}/${v.metadata.name}`)),
    namespaces: new Set(['default']),
    attachmentDefinitions: new Map((o.nads ?? [nad('default/vn1'), nad('default/vn2')]).map((n) => [`${n.metadata.namespace}/${n.metadata.name}`, n])),
    virtualNetworks: new Map(vns.map((v) => [`${v.metadata.namespace}/${v.metadata.name}`, v])),
    podCIDRs: config.podCIDRs,
  };
}

const pod4 = (annotations: Record<string, string>): PodObject => pod('default/pod4', ['10.244.1.4'], { annotations });
const eth1 = (ips = ['172.16.10.3'], name = 'default/vn1') => [{ name, interface: 'eth1', ips }];

/** The one attachment's placement, as "network <name>" or "quarantine: <why>". */
function placed(p: PodObject, c: AttachmentContext = ctx()): string[] {
  return podAttachments(p, c).attachments.map((a) => `${a.key} ${a.placement.kind === 'network' ? `network ${a.placement.network}` : `${a.placement.kind}: ${a.placement.why}`}`);
}

describe('attachments: where each secondary interface is', () => {
  it('both forms of the networks annotation place eth1 in the network of its NAD', () => {
    for (const networks of ['vn1@eth1', 'default/vn1@eth1', '[{"name":"vn1","interface":"eth1"}]', '[{"name":"vn1","namespace":"default","interface":"eth1","ips":["172.16.10.3/24"]}]']) {
      const r = podAttachments(pod4(multus(networks, ['10.244.1.4'], eth1())), ctx());
      expect(r.problems, networks).toEqual([]);
      expect(r.attachments, networks).toEqual([
        { key: 'default/pod4@eth1', ifname: 'eth1', nad: 'default/vn1', ips: ['172.16.10.3'], placement: { kind: 'network', network: 'default/vn1', why: 'NetworkAttachmentDefinition default/vn1 (the network of its name)' } },
      ]);
    }
    // Multus's default interface names (net1, net2, ...) when none is asked for.
    expect(placed(pod4(multus('vn1,vn2', ['10.244.1.4'], [{ name: 'default/vn1', interface: 'net1', ips: ['172.16.10.3'] }, { name: 'default/vn2', interface: 'net2', ips: ['172.16.20.3'] }])))).toEqual([
      'default/pod4@net1 network default/vn1',
      'default/pod4@net2 network default/vn2',
    ]);
  });

  it('a vrfwall.dev/network annotation on the NAD names its network', () => {
    const c = ctx({ nads: [nad('default/macvlan-a', { annotations: { 'vrfwall.dev/network': 'default/vn2' } })] });
    expect(placed(pod4(multus('macvlan-a@eth1', ['10.244.1.4'], eth1(['172.16.20.9'], 'default/macvlan-a'))), c)).toEqual(['default/pod4@eth1 network default/vn2']);
    expect(podAttachments(pod4(multus('macvlan-a@eth1', ['10.244.1.4'], eth1(['172.16.20.9'], 'default/macvlan-a'))), c).attachments[0]?.placement.why).toBe(
      'NetworkAttachmentDefinition default/macvlan-a annotation vrfwall.dev/network',
    );
  });

  it('every doubt quarantines that interface alone, saying why', () => {
    const q = (p: PodObject, c?: AttachmentContext): string => placed(p, c).join('\n');
    // Positive control first: the same pod, nothing wrong.
    expect(q(pod4(multus('vn1@eth1', ['10.244.1.4'], eth1())))).toBe('default/pod4@eth1 network default/vn1');
    // Unknown NAD; a cluster without the Multus CRD has no NADs at all.
    expect(q(pod4(multus('nope@eth1', ['10.244.1.4'], eth1(['172.16.10.3'], 'default/nope'))))).toBe(
      'default/pod4@eth1 quarantine: interface eth1 (NetworkAttachmentDefinition default/nope): NetworkAttachmentDefinition default/nope does not exist (or the cluster has no NetworkAttachmentDefinition CRD)',
    );
    expect(q(pod4(multus('vn1@eth1', ['10.244.1.4'], eth1())), ctx({ nads: [] }))).toMatch(/^default\/pod4@eth1 quarantine: .*NetworkAttachmentDefinition default\/vn1 does not exist/);
    // No network of the NAD's name, and none named by an annotation.
    expect(q(pod4(multus('vn1@eth1', ['10.244.1.4'], eth1())), ctx({ vns: [vn2] }))).toMatch(/quarantine: .*no network default\/vn1 for NetworkAttachmentDefinition default\/vn1/);
    // A network that takes no pods.
    expect(q(pod4(multus('vn1@eth1', ['10.244.1.4'], eth1())), ctx({ vns: [vn('default/vn1', { spec: { podNetwork: false } })] }))).toMatch(/quarantine: .*takes no pods/);
    // A bad or dangling annotation on the NAD.
    for (const value of ['not a network', 'default/missing']) {
      expect(q(pod4(multus('vn1@eth1', ['10.244.1.4'], eth1())), ctx({ nads: [nad('default/vn1', { annotations: { 'vrfwall.dev/network': value } })] }))).toMatch(
        /quarantine: interface eth1 \(NetworkAttachmentDefinition default\/vn1\): NetworkAttachmentDefinition default\/vn1 annotation vrfwall.dev\/network=/,
      );
    }
    // An address outside the network's subnet.
    expect(q(pod4(multus('vn1@eth1', ['10.244.1.4'], eth1(['172.16.10.3', '172.16.20.3']))))).toBe(
      "default/pod4@eth1 quarantine: interface eth1 (NetworkAttachmentDefinition default/vn1): 172.16.20.3 outside network default/vn1's subnet (172.16.10.0/24)",
    );
    // The networks annotation does not parse, is missing, or does not ask for this interface.
    expect(q(pod4(multus('vn1@@eth1', ['10.244.1.4'], eth1())))).toMatch(/quarantine: interface eth1 .*: k8s.v1.cni.cncf.io\/networks does not parse$/);
    expect(q(pod4(multus(undefined, ['10.244.1.4'], eth1())))).toMatch(/quarantine: .*not asked for \(the pod has no k8s.v1.cni.cncf.io\/networks annotation\)/);
    expect(q(pod4(multus('vn1@net5', ['10.244.1.4'], eth1())))).toMatch(/quarantine: .*not asked for in k8s.v1.cni.cncf.io\/networks/);
    expect(q(pod4(multus('vn2@eth1', ['10.244.1.4'], eth1())))).toMatch(/quarantine: .*not asked for in k8s.v1.cni.cncf.io\/networks/);
    // One interface reported twice, or reported as the cluster-network interface, or with no name.
    expect(q(pod4(multus('vn1@eth1', ['10.244.1.4'], [...eth1(), ...eth1(['172.16.10.4'])])))).toMatch(/quarantine: .*reports the interface 2 times/);
    expect(q(pod4(multus('vn1@eth0', ['10.244.1.4'], [{ name: 'default/vn1', interface: 'eth0', ips: ['172.16.10.3'] }])))).toMatch(/quarantine: .*also reports it as the cluster-network interface/);
    expect(q(pod4(multus('vn1@eth1', ['10.244.1.4'], [{ name: 'default/vn1', ips: ['172.16.10.3'] }])))).toMatch(/^default\/pod4@status-2 quarantine: .*entry 2 names no interface/);
  });

  it('a network-status without "default" (older Multus): the cluster-network entry is not an attachment; a like entry with other addresses is', () => {
    const old = (primaryIps: string[]) =>
      pod4({ 'k8s.v1.cni.cncf.io/networks': 'vn1@eth1', 'k8s.v1.cni.cncf.io/network-status': JSON.stringify([{ name: 'cbr0', interface: 'eth0', ips: primaryIps }, ...eth1()]) });
    expect(placed(old(['10.244.1.4']))).toEqual(['default/pod4@eth1 network default/vn1']);
    expect(placed(old(['10.244.1.99']))).toEqual([
      'default/pod4@eth0 quarantine: interface eth0 (network-status name "cbr0"): not asked for in k8s.v1.cni.cncf.io/networks',
      'default/pod4@eth1 network default/vn1',
    ]);
  });

  it("an address is the pod's only inside the pod ranges and its network's subnet of that family: a claim on a ClusterIP, an outside address, or a family the network sets no subnet for is refused", () => {
    const withV6 = ctx({ vns: [vn('default/vn1', { spec: { v4Subnet: '172.16.10.0/24', v6Subnet: 'fd00:16::/64' } })] });
    const wide = { ...withV6, podCIDRs: [...config.podCIDRs, 'fd00:16::/48'] };
    expect(placed(pod4(multus('vn1@eth1', ['10.244.1.4'], eth1(['172.16.10.3', 'fd00:16::3']))), wide)).toEqual(['default/pod4@eth1 network default/vn1']);
    // A family without a subnet: refused (it could otherwise take any address of that family).
    const v6 = podAttachments(pod4(multus('vn1@eth1', ['10.244.1.4'], eth1(['172.16.10.3', 'fd00:16::3']))), { ...ctx(), podCIDRs: wide.podCIDRs });
    expect(v6.attachments[0]?.placement).toMatchObject({ kind: 'quarantine', why: expect.stringContaining('fd00:16::3 outside network default/vn1') });
    // A Service's ClusterIP, an outside address: not the pod's at all (no endpoint), and the interface is quarantined.
    for (const ip of ['10.96.0.10', '192.0.2.1']) {
      const r = podAttachments(pod4(multus('vn1@eth1', ['10.244.1.4'], eth1([ip]))), ctx({ vns: [vn('default/vn1')] }));
      expect(r.attachments[0]?.ips).toEqual([]);
      expect(r.attachments[0]?.placement).toMatchObject({ kind: 'quarantine', why: expect.stringContaining(`${ip} not in the cluster's pod ranges`) });
    }
  });

  it('asked for but not attached yet: nothing; an unparsable network-status: reported, nothing known; hostNetwork pods: nothing', () => {
    expect(podAttachments(pod4(multus('vn1@eth1', ['10.244.1.4'], [])), ctx())).toEqual({ attachments: [], problems: [] });
    expect(podAttachments(pod4({ 'k8s.v1.cni.cncf.io/networks': 'vn1@eth1' }), ctx())).toEqual({ attachments: [], problems: [] });
    const bad = podAttachments(pod4({ 'k8s.v1.cni.cncf.io/networks': 'vn1@eth1', 'k8s.v1.cni.cncf.io/network-status': '[{"name":' }), ctx());
    expect(bad.attachments).toEqual([]);
    expect(bad.problems).toHaveLength(1);
    expect(bad.problems[0]?.source).toBe('Pod default/pod4');
    expect(bad.problems[0]?.message).toMatch(/^k8s.v1.cni.cncf.io\/network-status: not JSON: .*; its secondary interfaces and their addresses cannot be known/);
    // An unparsable networks annotation is reported too (and its interfaces quarantined, above).
    expect(podAttachments(pod4(multus('vn1@@eth1', ['10.244.1.4'], eth1())), ctx()).problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/^k8s.v1.cni.cncf.io\/networks entry 1: .*; its secondary interfaces are quarantined$/),
    ]);
    const host = pod('default/host', ['192.168.50.1'], { hostNetwork: true, annotations: multus('vn1@eth1', ['192.168.50.1'], eth1()) });
    expect(podAttachments(host, ctx())).toEqual({ attachments: [], problems: [] });
  });
});

// ---- the compile step ---------------------------------------------------------

const walkthrough = (o: { pod4Status?: { name: string; interface?: string; ips: string[] }[]; routers?: boolean; nads?: boolean } = {}): ClusterState =>
  cluster({
    namespaces: [isolatedNs('ns-iso')],
    virtualNetworks: [vn1, vn2],
    attachmentDefinitions: o.nads === false ? [] : [nad('default/vn1'), nad('default/vn2')],
    routers: o.routers ? [router('default/r1', 'mesh', { select: sel({ router: 'r1' }) })] : [],
    pods: [
      pod('default/pod4', ['10.244.1.4'], { annotations: multus('vn1@eth1', ['10.244.1.4'], o.pod4Status ?? eth1()) }),
      pod('default/vn1-pod', ['10.244.1.5'], { annotations: multus('vn1@net1', ['10.244.1.5'], [{ name: 'default/vn1', interface: 'net1', ips: ['172.16.10.5'] }]) }),
      pod('default/vn2-pod', ['10.244.2.6'], { node: 'n2', annotations: multus('vn2@net1', ['10.244.2.6'], [{ name: 'default/vn2', interface: 'net1', ips: ['172.16.20.6'] }]) }),
      pod('ns-iso/pod1', ['10.244.1.7']),
    ],
    nodes: { n1: ['192.168.50.1'], n2: ['192.168.50.2'] },
  });

// Host-side interfaces on n1: pod4's eth0 is 11 and its eth1 12; vn1-pod's 13 and 14; pod1's 15.
const IFACES = new Map([
  ['10.244.1.4', 11],
  ['172.16.10.3', 12],
  ['10.244.1.5', 13],
  ['172.16.10.5', 14],
  ['10.244.1.7', 15],
]);
const run = (s: ClusterState): DesiredState => compile(s, config, IFACES, emptyAllocation());

describe('compile: secondary interfaces', () => {
  it("pod4's eth1 is an endpoint of vn1 on its own interface; eth0 stays in the default network", () => {
    const d = run(walkthrough());
    const id = (n: string): number => d.allocation.ids[n]!;
    expect(d.placements.get('default/pod4')).toMatchObject({ kind: 'network', network: DEFAULT_NETWORK });
    expect(d.placements.get('default/pod4@eth1')).toMatchObject({ kind: 'network', network: 'default/vn1' });
    expect(d.endpoints.get('10.244.1.4')).toMatchObject({ vrfId: id(DEFAULT_NETWORK), ifindex: 11 });
    expect(d.endpoints.get('172.16.10.3')).toMatchObject({ vrfId: id('default/vn1'), ifindex: 12 });
    expect(d.endpoints.get('172.16.10.3')!.flags & VW_EP_LOCAL).toBe(VW_EP_LOCAL);
    // The spoof check's precondition: each address belongs to its own interface.
    expect(d.endpoints.get('10.244.1.4')!.ifindex).not.toBe(d.endpoints.get('172.16.10.3')!.ifindex);
    expect(d.attach.get('default/pod4')).toEqual([11]);
    expect(d.attach.get('default/pod4@eth1')).toEqual([12]);
    // A remote pod's secondary address is known, in its network, with no local interface.
    expect(d.endpoints.get('172.16.20.6')).toMatchObject({ vrfId: id('default/vn2'), ifindex: 0 });
    expect(d.attach.has('default/vn2-pod@net1')).toBe(false);
    // vn1 and vn2 are not joined; nothing of pod4 is in the isolated namespace's network.
    expect(d.vrfPairs.size).toBe(0);
    expect(d.endpoints.get('10.244.1.7')?.vrfId).toBe(id('ns-iso/default-podnetwork'));
    expect(d.problems).toEqual([]);
  });

  it('a router joining vn1 and vn2 pairs their VRFs', () => {
    const without = run(walkthrough());
    const d = run(walkthrough({ routers: true }));
    const [a, b] = [d.allocation.ids['default/vn1']!, d.allocation.ids['default/vn2']!];
    expect(without.vrfPairs.has(`${a}:${b}`)).toBe(false);
    expect(d.vrfPairs.has(`${a}:${b}`) && d.vrfPairs.has(`${b}:${a}`)).toBe(true);
  });

  it('a quarantined attachment: its addresses are quarantine endpoints on its interface, the pod stays placed, the problem names the interface', () => {
    const d = run(walkthrough({ nads: false }));
    expect(d.placements.get('default/pod4')).toMatchObject({ kind: 'network', network: DEFAULT_NETWORK });
    expect(d.placements.get('default/pod4@eth1')?.kind).toBe('quarantine');
    expect(d.endpoints.get('172.16.10.3')).toMatchObject({ vrfId: 0, flags: expect.any(Number), ifindex: 12 });
    expect(d.endpoints.get('172.16.10.3')!.flags & (VW_EP_QUARANTINE | VW_EP_LOCAL)).toBe(VW_EP_QUARANTINE | VW_EP_LOCAL);
    expect(d.endpoints.get('10.244.1.4')!.flags & VW_EP_QUARANTINE).toBe(0);
    expect(d.problems.map((p) => `${p.source}: ${p.message}`)).toContain(
      'Pod default/pod4@eth1: quarantined: interface eth1 (NetworkAttachmentDefinition default/vn1): NetworkAttachmentDefinition default/vn1 does not exist (or the cluster has no NetworkAttachmentDefinition CRD)',
    );
  });

  it("a secondary address equal to another pod's own address quarantines only the secondary interface: network-status cannot take a pod's address", () => {
    const s = walkthrough({ pod4Status: eth1(['10.244.1.7']) });
    s.virtualNetworks.set('default/vn1', vn('default/vn1')); // no subnet: the address itself is acceptable
    const d = run(s);
    expect(d.placements.get('default/pod4@eth1')).toEqual({ kind: 'quarantine', why: 'IP 10.244.1.7 is also claimed by pod ns-iso/pod1' });
    // The victim keeps its network and its endpoint (the kubelet reported its address; an annotation did not).
    expect(d.placements.get('ns-iso/pod1')).toMatchObject({ kind: 'network' });
    expect(d.placements.get('default/pod4')).toMatchObject({ kind: 'network', network: DEFAULT_NETWORK });
    expect(d.endpoints.get('10.244.1.7')!.flags & VW_EP_QUARANTINE).toBe(0);
    expect(d.endpoints.get('10.244.1.7')!.vrfId).toBe(d.allocation.ids['ns-iso/default-podnetwork']);
    expect(d.endpoints.get('10.244.1.4')!.flags & VW_EP_QUARANTINE).toBe(0);
  });

  it('an attachment whose plugin is not one with a node-side interface (macvlan, ipvlan, tap, unnamed, ...) is refused: quarantined, saying why', () => {
    for (const type of ['macvlan', 'ipvlan', 'tap', undefined]) {
      const s = walkthrough();
      const { cniType: _bridge, ...bare } = nad('default/vn1');
      s.attachmentDefinitions.set('default/vn1', type !== undefined ? { ...bare, cniType: type } : bare);
      const d = run(s);
      expect(d.placements.get('default/pod4@eth1')).toEqual({
        kind: 'quarantine',
        why: expect.stringContaining(`uses ${type !== undefined ? `the ${type} plugin` : 'a plugin its spec.config does not name'}: vrfwall enforces only on bridge, ptp, ovs interfaces`),
      });
      expect(d.endpoints.get('172.16.10.3')!.flags & VW_EP_QUARANTINE).toBe(VW_EP_QUARANTINE);
      expect(d.placements.get('default/pod4')).toMatchObject({ kind: 'network', network: DEFAULT_NETWORK });
    }
    // The control: a bridge delegate is placed.
    const s = walkthrough();
    s.attachmentDefinitions.set('default/vn1', { ...nad('default/vn1'), cniType: 'bridge' });
    expect(run(s).placements.get('default/pod4@eth1')).toMatchObject({ kind: 'network', network: 'default/vn1' });
  });

  it('two secondary interfaces claiming one address both lose it', () => {
    const s = walkthrough({ pod4Status: eth1(['172.16.10.9']) });
    const other = s.pods.get('ns-iso/pod1')!;
    s.pods.set('ns-iso/pod1', {
      ...other,
      metadata: {
        ...other.metadata,
        annotations: {
          'k8s.v1.cni.cncf.io/networks': 'default/vn1@eth1',
          'k8s.v1.cni.cncf.io/network-status': JSON.stringify([{ name: 'default/vn1', interface: 'eth1', ips: ['172.16.10.9'] }]),
        },
      },
    });
    const d = run(s);
    expect(d.placements.get('default/pod4@eth1')).toMatchObject({ kind: 'quarantine' });
    expect(d.placements.get('ns-iso/pod1@eth1')).toMatchObject({ kind: 'quarantine' });
    expect(d.placements.get('ns-iso/pod1')).toMatchObject({ kind: 'network' });
    expect(d.endpoints.get('172.16.10.9')!.flags & VW_EP_QUARANTINE).toBe(VW_EP_QUARANTINE);
  });

  it("an entry nothing asked for, claiming a placed interface's address, loses it alone (full and incremental compile)", () => {
    // ns-iso/pod1 asks for no network; its network-status (its owner's to edit) names pod4@eth1's address on a made-up eth9
    const forged = (withClaim: boolean) => {
      const s = walkthrough();
      const other = s.pods.get('ns-iso/pod1')!;
      if (withClaim) {
        s.pods.set('ns-iso/pod1', {
          ...other,
          metadata: { ...other.metadata, annotations: { 'k8s.v1.cni.cncf.io/network-status': JSON.stringify([{ name: 'default/vn1', interface: 'eth9', ips: ['172.16.10.3'] }]) } },
        });
      }
      return s;
    };
    // the control: without the forged entry pod4@eth1 is placed
    expect(run(forged(false)).placements.get('default/pod4@eth1')).toMatchObject({ kind: 'network', network: 'default/vn1' });
    const d = run(forged(true));
    expect(d.placements.get('ns-iso/pod1@eth9')).toMatchObject({ kind: 'quarantine' });
    expect(d.placements.get('default/pod4@eth1')).toMatchObject({ kind: 'network', network: 'default/vn1' });
    expect(d.endpoints.get('172.16.10.3')!.flags & VW_EP_QUARANTINE).toBe(0);
    // the incremental compile agrees, adding the forged entry and taking it away again
    const inc = new IncrementalCompiler(config, emptyAllocation());
    inc.update(forged(false), 'all', IFACES);
    inc.update(forged(true), [{ kind: 'Pod', key: 'ns-iso/pod1' }], IFACES);
    expect(inc.desired().placements.get('default/pod4@eth1')).toEqual(d.placements.get('default/pod4@eth1'));
    expect(inc.desired().endpoints.get('172.16.10.3')).toEqual(d.endpoints.get('172.16.10.3'));
    inc.update(forged(false), [{ kind: 'Pod', key: 'ns-iso/pod1' }], IFACES);
    expect(inc.desired().placements.get('ns-iso/pod1@eth9')).toBeUndefined();
  });

  it('removing the attachment from network-status removes its endpoints and attach entry (incremental compile too)', () => {
    const s0 = walkthrough();
    const s1 = walkthrough({ pod4Status: [] });
    const inc = new IncrementalCompiler(config, emptyAllocation());
    inc.update(s0, 'all', IFACES);
    expect(inc.desired().endpoints.has('172.16.10.3')).toBe(true);
    expect(inc.localPods().get('default/pod4@eth1')).toEqual(['172.16.10.3']);
    const delta = inc.update(s1, [{ kind: 'Pod', key: 'default/pod4' }], IFACES);
    expect(delta.endpoints.has('172.16.10.3')).toBe(true);
    expect(inc.desired().endpoints.has('172.16.10.3')).toBe(false);
    expect(inc.desired().attach.has('default/pod4@eth1')).toBe(false);
    expect(inc.desired().placements.has('default/pod4@eth1')).toBe(false);
    expect(inc.localPods().has('default/pod4@eth1')).toBe(false);
    expect(inc.desired().endpoints.has('10.244.1.4')).toBe(true);
    // A NAD removed: the interface stays known, quarantined.
    const s2 = { ...s0, attachmentDefinitions: new Map([...s0.attachmentDefinitions].filter(([k]) => k !== 'default/vn1')) };
    inc.update(s0, [{ kind: 'Pod', key: 'default/pod4' }], IFACES);
    inc.update(s2, [{ kind: 'NetworkAttachmentDefinition', key: 'default/vn1' }], IFACES);
    expect(inc.desired().placements.get('default/pod4@eth1')?.kind).toBe('quarantine');
    expect(inc.desired().endpoints.get('172.16.10.3')!.flags & VW_EP_QUARANTINE).toBe(VW_EP_QUARANTINE);
    expect(JSON.stringify([...inc.desired().endpoints].sort())).toBe(JSON.stringify([...compile(s2, config, IFACES, inc.allocation).endpoints].sort()));
  });
});

describe('networkSubnets', () => {
  it('every VirtualNetwork subnet once, sorted (where the agent may release managed neighbour entries)', () => {
    expect(networkSubnets([vn1, vn2, vn('a/x', { spec: { v4Subnet: '172.16.10.0/24', v6Subnet: 'fd00:16::/64' } }), vn('a/y')])).toEqual(['172.16.10.0/24', '172.16.20.0/24', 'fd00:16::/64']);
  });
});
