// Red-team findings on the session table (design section 3 rule 5: "When
// the table or a quota is full, the new connection of the pod that is over
// its share is refused and counted, never someone else's"), on the real
// kernel with BPF_PROG_TEST_RUN and the agent's own sweep.
//
// session_owners (65536 entries by default) keeps one count per client
// address. The agent's sweep deletes a zero count only when the address is no
// endpoint any more, so every address that ever held a session and still
// exists keeps its entry. A node hosting a shared backend (kube-dns) meets,
// through rule 4, every client address of every other network of the cluster:
// once as many distinct addresses have used it as the owners table holds, a
// pod that never held a session is refused (SESSION_LIMIT) while the session
// table itself is empty. Shown here with a 2-entry owners table.
//
// Fixed: the sweep forgets endpoints' zero counts too once the owners table
// is half full (src/agent/sessions.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as abi from '../src/kernel/abi.js';
import { native, type NativeAddon } from '../src/kernel/native.js';
import * as pk from './helpers/packets.js';
import { CLUSTER_CIDRS, HERE, TEST_PROBE_KEY, TestDatapath, allow, freshPinRoot, localEndpoints, type Party } from './helpers/datapath.js';

const { AllowRule: Rule } = abi;
const P = {
  a1: { v4: '10.244.1.10', v6: 'fd00:10:244:1::10' },
  c1: { v4: '10.244.1.30', v6: 'fd00:10:244:1::30' },
  d1: { v4: '10.244.1.40', v6: 'fd00:10:244:1::40' },
  vip: { v4: '10.96.0.20', v6: 'fd00:10:96::20' },
} satisfies Record<string, Party>;

let n: NativeAddon;
let dp: TestDatapath;

const dns = (src: string, sport: number): Buffer =>
  pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src, dst: P.vip.v4, protocol: pk.IpProto.UDP }, pk.udp({ sport, dport: 53 })));

beforeAll(() => {
  n = native();
  dp = new TestDatapath(n, freshPinRoot('dpredteam-test-'), { session_owners: 2 });
  dp.putEndpoints([
    [P.a1, { vrfId: 10, flags: abi.VW_EP_LOCAL, ifindex: HERE }],
    [P.c1, { vrfId: 11, flags: abi.VW_EP_LOCAL, ifindex: HERE }],
    [P.d1, { vrfId: 12, flags: abi.VW_EP_LOCAL, ifindex: HERE }],
  ]);
  dp.putCidrs(CLUSTER_CIDRS);
  n.mapUpdate(
    dp.mapFd(abi.MapName.services),
    abi.encodeSvcKey({ addr: P.vip.v4, port: 53, protocol: 'UDP', clientVrf: abi.VW_SVC_ANY_VRF }),
    abi.encodeSvcValue({ svcVrf: 0, flags: abi.VW_SVC_SHARED }),
  );
  dp.retire();
});

afterAll(() => dp?.close());

describe('session owners: counts of past clients fill the table', () => {
  it('a client that holds no session is not refused because other addresses once held one (owners table full of zero counts)', async () => {
    const { SessionKeeper, DEFAULT_SESSION_SETTINGS } = await import('../src/agent/sessions.js');
    const keeper = new SessionKeeper(
      n,
      { sessions: dp.mapFd('sessions'), session_owners: dp.mapFd('session_owners'), config: dp.mapFd('config') },
      dp.sessionGc,
      { ...DEFAULT_SESSION_SETTINGS, timeoutsSec: { ...DEFAULT_SESSION_SETTINGS.timeoutsSec, udp: 0.001 } },
      TEST_PROBE_KEY,
    );
    // Two clients each ask kube-dns once; their sessions expire and the agent sweeps.
    dp.expectVerdict('from', dns(P.a1.v4, 40001), allow(Rule.SERVICE));
    dp.expectVerdict('from', dns(P.c1.v4, 40002), allow(Rule.SERVICE));
    await new Promise((r) => setTimeout(r, Number((1n << BigInt(abi.VW_CACHE_TICK_SHIFT)) / 1_000_000n) + 20)); // timeout + the refresh lag
    const swept = keeper.sweep(localEndpoints([P.a1.v4, P.c1.v4, P.d1.v4]));
    expect(swept.expired).toBe(2);
    expect(n.mapDump(dp.mapFd(abi.MapName.sessions)).count).toBe(0);
    // Positive control: a past client still gets its connection.
    dp.expectVerdict('from', dns(P.a1.v4, 40003), allow(Rule.SERVICE));
    // The finding was: d1 holds nothing, the session table is empty, and yet it was refused (SESSION_LIMIT).
    dp.expectVerdict('from', dns(P.d1.v4, 40004), allow(Rule.SERVICE));
  });
});
