// Which lines of `ip monitor label link route neigh` wake the agent.
import { describe, expect, it } from 'vitest';
import { isTriggerLine } from '../src/agent/netlink-monitor.js';

describe('ip monitor lines that are worth a reconcile', () => {
  const waiting = new Set(['10.244.1.5', 'fd00::5']);

  it('any link or route change', () => {
    expect(isTriggerLine('[LINK]3: veth1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP', new Set())).toBe(true);
    expect(isTriggerLine('[ROUTE]10.244.1.5 dev veth1 scope link', new Set())).toBe(true);
  });

  it('a neighbour entry only when it gives an address waited for its MAC (any spelling of that address)', () => {
    expect(isTriggerLine('[NEIGH]10.244.1.5 dev br0 lladdr 02:00:00:00:00:05 REACHABLE', waiting)).toBe(true);
    expect(isTriggerLine('[NEIGH]fd00:0:0::5 dev br0 lladdr 02:00:00:00:00:05 STALE', waiting)).toBe(true);
    expect(isTriggerLine('[NEIGH]Deleted 10.244.1.5 dev br0 lladdr 02:00:00:00:00:05 STALE', waiting)).toBe(true);
    // not resolved yet, another address, or nothing waited for
    expect(isTriggerLine('[NEIGH]10.244.1.5 dev br0 INCOMPLETE', waiting)).toBe(false);
    expect(isTriggerLine('[NEIGH]10.244.1.6 dev br0 lladdr 02:00:00:00:00:06 REACHABLE', waiting)).toBe(false);
    expect(isTriggerLine('[NEIGH]10.244.1.5 dev br0 lladdr 02:00:00:00:00:05 REACHABLE', new Set())).toBe(false);
    expect(isTriggerLine('[NEIGH]not-an-address dev br0 lladdr 02:00:00:00:00:05 REACHABLE', waiting)).toBe(false);
  });

  it('other lines (addresses, rules) do not', () => {
    expect(isTriggerLine('[ADDR]3: veth1    inet 10.244.1.1/24 scope global veth1', waiting)).toBe(false);
    expect(isTriggerLine('', waiting)).toBe(false);
  });
});
