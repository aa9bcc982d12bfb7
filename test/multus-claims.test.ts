// What a pod's owner can make of a network-status claim (from the security
// review of issue 14; each of these failed before its fix): design sections 2
// and 3, bad input never opens a path, and no tenant takes away another's.
import { describe, expect, it } from 'vitest';
import { VW_EP_QUARANTINE } from '../src/kernel/abi.js';
import { compile } from '../src/model/compile.js';
import type { ClusterConfig, ClusterState } from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { cluster, isolatedNs, multus, nad, pod, vn } from './helpers/cluster.js';

const config: ClusterConfig = { nodeName: 'n1', podCIDRs: ['10.244.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] };
const IFACES = new Map([['10.244.1.4', 11], ['10.244.1.7', 15]]);

/** A tenant pod (ns "evil") whose own annotations claim `claimed` on a made-up eth9; pod1 is an innocent pod elsewhere. */
function state(claimed: string[], o: { nad?: boolean } = {}): ClusterState {
  return cluster({
    namespaces: [isolatedNs('evil'), isolatedNs('ns-iso')],
    virtualNetworks: o.nad ? [vn('evil/mine')] : [], // a VirtualNetwork the tenant made, no subnet
    attachmentDefinitions: o.nad ? [nad('evil/mine')] : [],
    pods: [
      pod('evil/attacker', ['10.244.1.4'], { annotations: multus(o.nad ? 'mine@eth9' : undefined, ['10.244.1.4'], [{ name: o.nad ? 'evil/mine' : 'whatever', interface: 'eth9', ips: claimed }]) }),
      pod('ns-iso/pod1', ['10.244.1.7']),
    ],
    nodes: { n1: ['192.168.50.1'] },
  });
}

describe('network-status claims of addresses that are no pod interface', () => {
  it('a claim (not even asked for) of a Service VIP or an outside address makes no endpoint: nobody else loses it', () => {
    // positive control: a secondary claim inside the pod CIDR is an endpoint (quarantined)
    const ctl = compile(state(['10.244.1.99']), config, IFACES, emptyAllocation());
    expect(ctl.endpoints.get('10.244.1.99')!.flags & VW_EP_QUARANTINE).toBe(VW_EP_QUARANTINE);
    // kube-dns's ClusterIP and an address outside the cluster: the datapath
    // looks endpoints up before the service CIDR and before rule 6, so an
    // endpoint here drops every pod's traffic to it (QUARANTINED) cluster-wide.
    for (const ip of ['10.96.0.10', '203.0.113.10']) {
      const d = compile(state([ip]), config, IFACES, emptyAllocation());
      expect(d.placements.get('evil/attacker@eth9')?.kind, ip).toBe('quarantine');
      expect(d.endpoints.has(ip), `${ip} must not become an endpoint`).toBe(false);
    }
  });

  it('a placed claim of an outside address does not put it in the tenant network (would bypass vrfwall.dev/external: deny)', () => {
    const d = compile(state(['203.0.113.10'], { nad: true }), config, IFACES, emptyAllocation());
    // On main: placed in evil/mine (a VirtualNetwork without subnet accepts any address) and the address is
    // an endpoint of that network: a pod in it reaches 203.0.113.10 under rule 1 (SAME_NETWORK), before the
    // external-deny check of rule 6.
    expect(d.endpoints.get('203.0.113.10')?.vrfId ?? 0).toBe(0);
  });
});

describe('NetworkAttachmentDefinitions whose interface vrfwall cannot enforce', () => {
  // What is not known to have a node-side interface must be refused (deny by default), not only a fixed list.
  const { cniType: _bridge, ...withoutType } = nad('evil/mine');
  // Here the secondary range is a pod range too, as an operator lists it.
  const wide: ClusterConfig = { ...config, podCIDRs: [...config.podCIDRs, '172.16.0.0/16'] };
  const s = (cniType: string | undefined): ClusterState => {
    const st = cluster({
      namespaces: [isolatedNs('evil')],
      virtualNetworks: [vn('evil/mine', { spec: { v4Subnet: '172.16.30.0/24' } })],
      attachmentDefinitions: [cniType === undefined ? withoutType : { ...withoutType, cniType }],
      pods: [pod('evil/attacker', ['10.244.1.4'], { annotations: multus('mine@eth1', ['10.244.1.4'], [{ name: 'evil/mine', interface: 'eth1', ips: ['172.16.30.5'] }]) })],
      nodes: { n1: ['192.168.50.1'] },
    });
    return st;
  };
  it('a NAD without spec.config (Multus then reads the node\'s own file) or with an unlisted plugin is refused like macvlan', () => {
    // positive controls: bridge is placed, macvlan refused
    expect(compile(s('bridge'), wide, IFACES, emptyAllocation()).placements.get('evil/attacker@eth1')?.kind).toBe('network');
    expect(compile(s('macvlan'), wide, IFACES, emptyAllocation()).placements.get('evil/attacker@eth1')?.kind).toBe('quarantine');
    for (const t of [undefined, 'tap', 'bond', 'vdpa', 'accelerated-bridge', 'userspace']) {
      expect(compile(s(t), wide, IFACES, emptyAllocation()).placements.get('evil/attacker@eth1')?.kind, String(t)).toBe('quarantine');
    }
  });
});
