// Interface discovery (src/agent/discovery.ts) without a kernel or root: the
// module runs `ip -json ...` and `bridge -json fdb show`; here those are
// stand-ins first on PATH that print the JSON iproute2 prints (shapes taken
// from iproute2 6.x), so what is tested is the parsing and the decisions:
// host routes (ptp), neighbour + FDB (bridge), the memory of learnt ports,
// one pod one interface, the MAC each port may send from, and which
// neighbour entries to make managed or release.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { VW_NO_MAC } from '../src/kernel/abi.js';
import { InterfaceDiscovery } from '../src/agent/discovery.js';

interface Tables {
  links: unknown[];
  v4: unknown[];
  v6: unknown[];
  neigh: unknown[];
  fdb: unknown[];
}

let dir: string;
const savedPath = process.env.PATH;

/** What the stand-in `ip` and `bridge` print from now on. */
function tables(t: Partial<Tables>): void {
  const all: Tables = { links: [], v4: [], v6: [], neigh: [], fdb: [], ...t };
  for (const [name, rows] of Object.entries(all)) fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(rows));
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-discovery-test-'));
  // Only the commands discovery runs are answered; anything else fails loudly.
  const script = (cases: string): string => `#!/bin/sh\ncase "$*" in\n${cases}\n*) echo "unexpected: $0 $*" >&2; exit 2;;\nesac\n`;
  const cat = (f: string): string => `cat "${dir}/${f}.json";;`;
  fs.writeFileSync(
    path.join(dir, 'ip'),
    script(
      [
        `"-json -details link show") ${cat('links')}`,
        `"-json -4 route show table main") ${cat('v4')}`,
        `"-json -6 route show table main") ${cat('v6')}`,
        `"-json neigh show") ${cat('neigh')}`,
      ].join('\n'),
    ),
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(dir, 'bridge'), script(`"-json fdb show") ${cat('fdb')}`), { mode: 0o755 });
  process.env.PATH = `${dir}:${savedPath}`;
});

afterAll(() => {
  process.env.PATH = savedPath;
  fs.rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => tables({}));

const link = (ifindex: number, ifname: string, extra: Record<string, unknown> = {}) => ({ ifindex, ifname, flags: ['UP'], mtu: 1500, ...extra });
const lo = link(1, 'lo');
const eth0 = link(2, 'eth0');

describe('ptp wiring: host routes', () => {
  it('a /32 or /128 route out of a device names the pod interface; other routes, lo and non-unicast types do not', async () => {
    tables({
      links: [lo, eth0, link(7, 'cali1', { linkinfo: { info_kind: 'veth' } }), link(8, 'cali2', { linkinfo: { info_kind: 'veth' } })],
      v4: [
        { dst: 'default', gateway: '192.168.50.254', dev: 'eth0', flags: [] },
        { dst: '192.168.50.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '192.168.50.1', flags: [] },
        { dst: '10.244.1.10', dev: 'cali1', scope: 'link', flags: [] },
        { dst: '10.244.1.11/32', dev: 'cali2', scope: 'link', flags: [] },
        { type: 'blackhole', dst: '10.244.1.99', flags: [] },
        { dst: '10.244.1.12', dev: 'lo', scope: 'link', flags: [] },
        { type: 'local', dst: '10.244.1.13', dev: 'cali2', flags: [] },
      ],
      v6: [{ dst: 'fd00:10:244:1:0:0:0:a', dev: 'cali1', metric: 1024, pref: 'medium', flags: [] }],
    });
    const d = await new InterfaceDiscovery().discover([['10.244.1.10', 'fd00:10:244:1::a'], ['10.244.1.11']]);
    expect([...d.byIp].sort()).toEqual([
      ['10.244.1.10', 7],
      ['10.244.1.11', 8],
      ['fd00:10:244:1::a', 7], // canonical text, as the compile step writes it
    ]);
    expect(d.all).toEqual([1, 2, 7, 8]);
    // no bridge: nothing to resolve, manage or release
    expect(d).toMatchObject({ unresolved: [], manage: [], release: [] });
    expect(d.macs.size).toBe(0);
  });
});

describe('bridge wiring: neighbour table + FDB', () => {
  const MAC_A = 'aa:aa:aa:00:00:0a';
  const MAC_B = 'aa:aa:aa:00:00:0b';
  const bridgeLinks = [
    lo,
    eth0,
    link(3, 'cni0', { linkinfo: { info_kind: 'bridge' }, address: '02:00:00:00:00:01' }),
    link(10, 'vetha', { master: 'cni0', linkinfo: { info_kind: 'veth' } }),
    link(11, 'vethb', { master: 'cni0', linkinfo: { info_kind: 'veth' } }),
  ];
  const routes = {
    v4: [{ dst: '10.244.1.0/24', dev: 'cni0', protocol: 'kernel', scope: 'link', prefsrc: '10.244.1.1', flags: [] }],
    v6: [{ dst: 'fd00:10:244:1::/64', dev: 'cni0', protocol: 'kernel', metric: 256, flags: [] }],
  };
  const fdbOf = (entries: [string, string][]) => [
    { mac: '02:00:00:00:00:01', ifname: 'cni0', vlan: 1, flags: ['self'], master: 'cni0', state: 'permanent' },
    { mac: '02:00:00:00:00:10', ifname: 'vetha', master: 'cni0', state: 'permanent' }, // the port's own address
    ...entries.map(([mac, ifname]) => ({ mac, ifname, master: 'cni0', flags: [] })),
  ];
  const POD_A = ['10.244.1.10', 'fd00:10:244:1::a'];
  const POD_B = ['10.244.1.11'];

  it('pod IP -> MAC (neighbour) -> port (FDB); one resolved address places the pod\'s others; MACs per port', async () => {
    tables({
      links: bridgeLinks,
      ...routes,
      neigh: [
        { dst: '10.244.1.10', dev: 'cni0', lladdr: MAC_A.toUpperCase(), state: ['REACHABLE'], managed: null },
        { dst: '192.168.50.254', dev: 'eth0', lladdr: '52:54:00:00:00:01', state: ['STALE'] },
        // resolves to a port's own (permanent) address: that is not a pod behind the port
        { dst: '10.244.1.12', dev: 'cni0', lladdr: '02:00:00:00:00:10', state: ['REACHABLE'] },
      ],
      fdb: fdbOf([[MAC_A, 'vetha']]),
    });
    const d = await new InterfaceDiscovery().discover([POD_A, POD_B, ['10.244.1.12']], ['10.244.0.0/16', 'fd00:10:244::/48']);
    expect(d.byIp).toEqual(new Map([['10.244.1.10', 10], ['fd00:10:244:1::a', 10]]));
    expect(d.macs).toEqual(new Map([[10, MAC_A]]));
    // B has no neighbour entry yet: unresolved, and asked for (managed) as is A's v6 address;
    // A's v4 entry is managed already.
    expect(d.unresolved).toEqual(['10.244.1.11', '10.244.1.12']);
    expect(d.manage).toEqual([
      { ip: 'fd00:10:244:1::a', bridge: 'cni0' },
      { ip: '10.244.1.11', bridge: 'cni0' },
      { ip: '10.244.1.12', bridge: 'cni0' },
    ]);
    expect(d.release).toEqual([]);
  });

  it('a managed entry for an address that is no longer a local pod is released, only inside the pod CIDRs', async () => {
    tables({
      links: bridgeLinks,
      ...routes,
      neigh: [
        { dst: '10.244.1.50', dev: 'cni0', lladdr: MAC_B, state: ['REACHABLE'], managed: null },
        { dst: '10.9.9.9', dev: 'cni0', lladdr: MAC_B, state: ['REACHABLE'], managed: null }, // not ours to remove
        { dst: '10.244.1.51', dev: 'cni0', lladdr: MAC_B, state: ['REACHABLE'] }, // not managed
      ],
      fdb: fdbOf([]),
    });
    const d = await new InterfaceDiscovery().discover([], ['10.244.0.0/16']);
    expect(d.release).toEqual([{ ip: '10.244.1.50', bridge: 'cni0' }]);
  });

  it('remembers a learnt port while it stays on the bridge and the MAC is the same (FDB aged out, neighbour flushed)', async () => {
    const disc = new InterfaceDiscovery();
    const neighA = { dst: '10.244.1.10', dev: 'cni0', lladdr: MAC_A, state: ['REACHABLE'], managed: null };
    tables({ links: bridgeLinks, ...routes, neigh: [neighA], fdb: fdbOf([[MAC_A, 'vetha']]) });
    expect((await disc.discover([POD_A])).byIp.get('10.244.1.10')).toBe(10);

    // FDB entry aged out: still vetha
    tables({ links: bridgeLinks, ...routes, neigh: [neighA], fdb: fdbOf([]) });
    expect((await disc.discover([POD_A])).byIp.get('10.244.1.10')).toBe(10);
    // the MAC now behind another port (a forged frame): memory wins, one pod one port
    tables({ links: bridgeLinks, ...routes, neigh: [neighA], fdb: fdbOf([[MAC_A, 'vethb']]) });
    expect((await disc.discover([POD_A])).byIp.get('10.244.1.10')).toBe(10);
    // the neighbour entry flushed (bridge MAC change): a local pod stays where it was learnt
    tables({ links: bridgeLinks, ...routes, neigh: [], fdb: fdbOf([]) });
    const flushed = await disc.discover([POD_A]);
    expect(flushed.byIp.get('10.244.1.10')).toBe(10);
    expect(flushed.unresolved).toEqual([]);
    // positive control for the memory's limits: the port leaves the bridge -> unresolved
    const unbridged = bridgeLinks.map((l) => (l.ifname === 'vetha' ? link(10, 'vetha', { linkinfo: { info_kind: 'veth' } }) : l));
    tables({ links: unbridged, ...routes, neigh: [], fdb: fdbOf([]) });
    const gone = await disc.discover([POD_A]);
    expect(gone.byIp.has('10.244.1.10')).toBe(false);
    expect(gone.unresolved).toEqual(POD_A);
  });

  it('a new MAC for the address is looked up afresh, not taken from memory', async () => {
    const disc = new InterfaceDiscovery();
    tables({ links: bridgeLinks, ...routes, neigh: [{ dst: '10.244.1.10', dev: 'cni0', lladdr: MAC_A, managed: null }], fdb: fdbOf([[MAC_A, 'vetha']]) });
    expect((await disc.discover([POD_A])).byIp.get('10.244.1.10')).toBe(10);
    tables({ links: bridgeLinks, ...routes, neigh: [{ dst: '10.244.1.10', dev: 'cni0', lladdr: MAC_B, managed: null }], fdb: fdbOf([[MAC_B, 'vethb']]) });
    const d = await disc.discover([POD_A]);
    expect(d.byIp.get('10.244.1.10')).toBe(11);
    expect(d.macs).toEqual(new Map([[11, MAC_B]]));
  });

  it("a pod whose addresses resolve to two MACs on one port may send from neither (VW_NO_MAC: fail closed)", async () => {
    tables({
      links: bridgeLinks,
      ...routes,
      neigh: [
        { dst: '10.244.1.10', dev: 'cni0', lladdr: MAC_A, managed: null },
        { dst: 'fd00:10:244:1::a', dev: 'cni0', lladdr: MAC_B, managed: null },
      ],
      fdb: fdbOf([[MAC_A, 'vetha'], [MAC_B, 'vetha']]),
    });
    const d = await new InterfaceDiscovery().discover([POD_A]);
    expect(d.byIp).toEqual(new Map([['10.244.1.10', 10], ['fd00:10:244:1::a', 10]]));
    expect(d.macs).toEqual(new Map([[10, VW_NO_MAC]]));
  });
});

describe('a bridge without an address (isGateway: false) and ports that are not pod interfaces', () => {
  const MAC_C = 'aa:aa:aa:00:00:0c';
  const MAC_D = 'aa:aa:aa:00:00:0d';
  const MAC_X = 'aa:aa:aa:00:00:ee';
  const links = [
    lo,
    eth0,
    link(3, 'cni0', { linkinfo: { info_kind: 'bridge' } }),
    link(20, 'br1', { linkinfo: { info_kind: 'bridge' } }),
    link(21, 'vethc', { master: 'br1', linkinfo: { info_kind: 'veth' } }),
    link(22, 'vxlan1', { master: 'br1', linkinfo: { info_kind: 'vxlan' } }),
    link(30, 'br2', { linkinfo: { info_kind: 'bridge' } }),
    link(31, 'vethd', { master: 'br2', linkinfo: { info_kind: 'veth' } }),
  ];
  // cni0 holds the pod subnet of both families; br1 and br2 hold nothing but fe80::/64
  const routes = {
    v4: [{ dst: '10.244.1.0/24', dev: 'cni0', protocol: 'kernel', scope: 'link', prefsrc: '10.244.1.1', flags: [] }],
    v6: [
      { dst: 'fd00:10:244:1::/64', dev: 'cni0', protocol: 'kernel', metric: 256, flags: [] },
      { dst: 'fe80::/64', dev: 'br1', protocol: 'kernel', metric: 256, flags: [] },
      { dst: 'fe80::/64', dev: 'br2', protocol: 'kernel', metric: 256, flags: [] },
    ],
  };
  const fdb = (entries: [string, string, string][]) => entries.map(([mac, ifname, master]) => ({ mac, ifname, master, flags: [] }));
  const CIDRS = ['10.244.0.0/16', '172.16.0.0/16', 'fd00:10:244::/48', 'fd50::/48'];

  it('a pod address outside every bridge subnet is looked for on each address-less bridge, and found behind its veth port', async () => {
    const disc = new InterfaceDiscovery();
    tables({ links, ...routes });
    const first = await disc.discover([['172.16.50.5', 'fd50::5']], CIDRS);
    expect(first.byIp.size).toBe(0);
    expect(first.unresolved).toEqual(['172.16.50.5', 'fd50::5']);
    // asked for on br1 and br2 (no prefix of either family), never on cni0 (its subnets are others)
    expect(first.manage).toEqual([
      { ip: '172.16.50.5', bridge: 'br1' },
      { ip: '172.16.50.5', bridge: 'br2' },
      { ip: 'fd50::5', bridge: 'br1' },
      { ip: 'fd50::5', bridge: 'br2' },
    ]);

    // the pod answered on br1: found there, and the entries on br2 are released
    tables({
      links,
      ...routes,
      neigh: [
        { dst: '172.16.50.5', dev: 'br1', lladdr: MAC_C, state: ['REACHABLE'], managed: null },
        { dst: '172.16.50.5', dev: 'br2', state: ['FAILED'], managed: null },
        { dst: 'fd50::5', dev: 'br2', state: ['INCOMPLETE'], managed: null },
      ],
      fdb: fdb([[MAC_C, 'vethc', 'br1']]),
    });
    const found = await disc.discover([['172.16.50.5', 'fd50::5']], CIDRS);
    expect(found.byIp).toEqual(new Map([['172.16.50.5', 21], ['fd50::5', 21]]));
    expect(found.macs).toEqual(new Map([[21, MAC_C]]));
    expect(found.unresolved).toEqual([]);
    expect(found.manage).toEqual([{ ip: 'fd50::5', bridge: 'br1' }]);
    expect(found.release).toEqual([
      { ip: '172.16.50.5', bridge: 'br2' },
      { ip: 'fd50::5', bridge: 'br2' },
    ]);
  });

  it('an address answered behind ports of two bridges is placed on neither (fail closed) until one answer is gone', async () => {
    const neigh = [
      { dst: '172.16.50.8', dev: 'br1', lladdr: MAC_C, state: ['REACHABLE'], managed: null },
      { dst: '172.16.50.8', dev: 'br2', lladdr: MAC_D, state: ['REACHABLE'], managed: null },
    ];
    const twoPorts = fdb([[MAC_C, 'vethc', 'br1'], [MAC_D, 'vethd', 'br2']]);
    tables({ links, ...routes, neigh, fdb: twoPorts });
    const d = await new InterfaceDiscovery().discover([['172.16.50.8']], CIDRS);
    expect(d.byIp.size).toBe(0);
    expect(d.unresolved).toEqual(['172.16.50.8']);
    // positive control: the same answer on br1 alone is found
    tables({ links, ...routes, neigh: [neigh[0] as (typeof neigh)[0]], fdb: twoPorts });
    expect((await new InterfaceDiscovery().discover([['172.16.50.8']], CIDRS)).byIp).toEqual(new Map([['172.16.50.8', 21]]));
  });

  it("an address whose NAD names its bridge is looked for there only: an answer behind another bridge's port places nothing", async () => {
    const hint = new Map([['172.16.50.9', 'br2']]);
    tables({ links, ...routes });
    const first = await new InterfaceDiscovery().discover([['172.16.50.9'], ['172.16.50.10']], CIDRS, hint);
    // the hinted address on br2 alone; an address without a hint not on br2 (a NAD's bridge belongs to its network)
    expect(first.manage).toEqual([
      { ip: '172.16.50.9', bridge: 'br2' },
      { ip: '172.16.50.10', bridge: 'br1' },
    ]);
    // a pod on br1 answers for it (a forged ARP reply): not placed, and the entry on br1 is released
    const forged = { dst: '172.16.50.9', dev: 'br1', lladdr: MAC_C, state: ['REACHABLE'], managed: null };
    tables({ links, ...routes, neigh: [forged], fdb: fdb([[MAC_C, 'vethc', 'br1']]) });
    const d = await new InterfaceDiscovery().discover([['172.16.50.9']], CIDRS, hint);
    expect(d.byIp.size).toBe(0);
    expect(d.unresolved).toEqual(['172.16.50.9']);
    expect(d.release).toEqual([{ ip: '172.16.50.9', bridge: 'br1' }]);
    // the control: the answer behind br2's port is found
    tables({ links, ...routes, neigh: [{ ...forged, dev: 'br2', lladdr: MAC_D }], fdb: fdb([[MAC_D, 'vethd', 'br2']]) });
    expect((await new InterfaceDiscovery().discover([['172.16.50.9']], CIDRS, hint)).byIp).toEqual(new Map([['172.16.50.9', 31]]));
  });

  it('only veth and netkit devices are pod interfaces: not a bridge uplink, a VXLAN port or a host route through a bridge', async () => {
    tables({
      links: [...links, link(40, 'nk0', { linkinfo: { info_kind: 'netkit' } }), link(41, 'tunl0', { linkinfo: { info_kind: 'ipip' } })],
      v4: [
        ...routes.v4,
        { dst: '172.16.60.7', dev: 'br1', scope: 'link', flags: [] },
        { dst: '172.16.60.8', dev: 'tunl0', scope: 'link', flags: [] },
        { dst: '172.16.60.9', dev: 'nk0', scope: 'link', flags: [] },
      ],
      v6: routes.v6,
      neigh: [
        { dst: '172.16.50.7', dev: 'br1', lladdr: MAC_X, state: ['REACHABLE'], managed: null },
        { dst: '172.16.50.5', dev: 'br1', lladdr: MAC_C, state: ['REACHABLE'], managed: null },
      ],
      fdb: fdb([[MAC_X, 'vxlan1', 'br1'], [MAC_C, 'vethc', 'br1']]),
    });
    const d = await new InterfaceDiscovery().discover([['172.16.50.7'], ['172.16.60.7'], ['172.16.60.8'], ['172.16.60.9'], ['172.16.50.5']], CIDRS);
    // the controls: a veth port (FDB) and a netkit device (host route) are placed
    expect(d.byIp).toEqual(new Map([['172.16.60.9', 40], ['172.16.50.5', 21]]));
    expect(d.unresolved).toContain('172.16.50.7');
  });
});
