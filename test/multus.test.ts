// The Multus annotations: both forms of k8s.v1.cni.cncf.io/networks and the
// network-status Multus writes. Bad values are errors, never "no attachments".
import { describe, expect, it } from 'vitest';
import { parseNetworkSelections, parseNetworkStatus, statusOf } from '../src/model/multus.js';

describe('k8s.v1.cni.cncf.io/networks', () => {
  it('reads the comma-separated form: [ns/]name[@ifname], net<position> by default', () => {
    expect(parseNetworkSelections('vn1', 'default')).toEqual({ ok: [{ namespace: 'default', name: 'vn1', interface: 'net1', ips: [] }] });
    expect(parseNetworkSelections(' other/vn1@eth1 , vn2 ', 'default')).toEqual({
      ok: [
        { namespace: 'other', name: 'vn1', interface: 'eth1', ips: [] },
        { namespace: 'default', name: 'vn2', interface: 'net2', ips: [] },
      ],
    });
    expect(parseNetworkSelections('', 'default')).toEqual({ ok: [] });
  });

  it('reads the JSON form: name, namespace, interface, ips (a prefix length allowed); other keys ignored', () => {
    const v = JSON.stringify([
      { name: 'vn1', interface: 'eth1', ips: ['172.16.10.3/24', 'fd00:16:10::0003'], mac: '02:00:00:00:00:01' },
      { name: 'vn2', namespace: 'other', 'default-route': ['172.16.20.1'] },
    ]);
    expect(parseNetworkSelections(v, 'default')).toEqual({
      ok: [
        { namespace: 'default', name: 'vn1', interface: 'eth1', ips: ['172.16.10.3', 'fd00:16:10::3'] },
        { namespace: 'other', name: 'vn2', interface: 'net2', ips: [] },
      ],
    });
  });

  it.each([
    ['vn1,', /entry 2: "" is not/],
    ['a/b/c', /is not \[<namespace>\/\]<name>\[@<interface>\]/],
    ['vn1@eth1,vn2@eth1', /interface eth1 is asked for twice/],
    ['vn1@a-very-long-interface-name', /is not an interface name/],
    ['Bad_Name', /is not a DNS name/],
    ['[{"name": 1}]', /"name" must be text/],
    ['[{"name": "vn1", "ips": ["x"]}]', /"x" is not an IP address/],
    ['[{"name": "vn1"', /not JSON/],
    ['[1]', /entry 1: not an object/],
  ])('%j is an error: %s', (value, why) => {
    const r = parseNetworkSelections(value, 'default');
    expect('error' in r && r.error).toMatch(why);
  });
});

describe('k8s.v1.cni.cncf.io/network-status', () => {
  const status = JSON.stringify([
    { name: 'cbr0', interface: 'eth0', ips: ['10.244.1.5'], mac: '0a:58:0a:f4:01:05', default: true, dns: {} },
    { name: 'default/vn1', interface: 'eth1', ips: ['172.16.10.3', 'fd00:16:10:0::3'], mac: '02:00:00:00:00:01', dns: {} },
  ]);

  it('reads what Multus writes; the default network is marked', () => {
    const r = parseNetworkStatus(status);
    expect(r).toEqual({
      ok: [
        { name: 'cbr0', interface: 'eth0', ips: ['10.244.1.5'], mac: '0a:58:0a:f4:01:05', default: true },
        { name: 'default/vn1', interface: 'eth1', ips: ['172.16.10.3', 'fd00:16:10::3'], mac: '02:00:00:00:00:01', default: false },
      ],
    });
  });

  it("finds a selection's entry by namespace/name and interface, never the default one", () => {
    const entries = (parseNetworkStatus(status) as { ok: Parameters<typeof statusOf>[1] }).ok;
    expect(statusOf({ namespace: 'default', name: 'vn1', interface: 'eth1', ips: [] }, entries)?.ips).toEqual(['172.16.10.3', 'fd00:16:10::3']);
    expect(statusOf({ namespace: 'default', name: 'vn1', interface: 'net1', ips: [] }, entries)).toBeUndefined();
    expect(statusOf({ namespace: 'default', name: 'cbr0', interface: 'eth0', ips: [] }, entries)).toBeUndefined();
  });

  it.each([
    ['{', /not JSON/],
    ['{}', /not a JSON list/],
    ['[{"interface": "eth1"}]', /expected an object with a "name"/],
    ['[{"name": "default/vn1", "ips": ["172.16.10.300"]}]', /is not an IP address/],
    ['[{"name": "default/vn1", "interface": "a/b"}]', /not an interface name/],
  ])('%j is an error: %s', (value, why) => {
    const r = parseNetworkStatus(value);
    expect('error' in r && r.error).toMatch(why);
  });
});
