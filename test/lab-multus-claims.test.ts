// From the security review of issue 14, lab `rvw1`, one node with an agent,
// the CN2 example: a tenant in the default namespace (pod4) writes a made-up
// entry into its own k8s.v1.cni.cncf.io/network-status (the lab's cluster file
// stands in for that annotation, as in lab-multus-enforcement) claiming the
// ClusterIP of Service isolated-namespace-demo/web. Before the fix the VIP
// became a quarantined endpoint and pod1 could no longer use its own
// namespace's Service (the datapath looks endpoints up before the service
// CIDR); now an address outside the pod ranges is no claim at all.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VW_EP_QUARANTINE } from '../src/kernel/abi.js';
import type { LabClusterFile } from '../src/lab/cluster-file.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { agentStatusFile, clusterFile } from '../src/lab/names.js';
import type { LabState } from '../src/lab/state.js';
import { ensureBuilt } from './helpers/build.js';
import { ROOT, podOf, readEndpoints, tcpFromPod, timeUntil } from './helpers/lab.js';

const LAB = 'rvw1';
const INSTANCE = `${LAB}-node1`;
const EXAMPLE = path.join(ROOT, 'examples/cn2-isolated-namespace');
let state: LabState;
let dir: string;

function quarantined(): Record<string, string> {
  try {
    return (JSON.parse(fs.readFileSync(agentStatusFile(INSTANCE), 'utf8')) as { quarantined?: Record<string, string> }).quarantined ?? {};
  } catch {
    return {};
  }
}

describe('review: a network-status claim on a Service VIP (lab rvw1)', () => {
  beforeAll(async () => {
    ensureBuilt();
    await labDown(LAB);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-rvw1-'));
    for (const f of fs.readdirSync(EXAMPLE)) if (f.endsWith('.yaml')) fs.copyFileSync(path.join(EXAMPLE, f), path.join(dir, f));
    state = await labUp(dir, { lab: LAB, nodes: 1, agent: true, log: () => undefined });
  }, 120_000);

  afterAll(async () => {
    await labDown(LAB);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("another namespace's pod cannot take pod1's own Service away by naming its VIP in its network-status", async () => {
    const cf = clusterFile(LAB);
    const lab = JSON.parse(fs.readFileSync(cf, 'utf8')) as LabClusterFile;
    const vip = lab.services!['isolated-namespace-demo/web']!.clusterIPs.find((ip) => !ip.includes(':'))!;
    const pod2 = podOf(state, 'isolated-namespace-demo/pod2').ips.v4!;
    const key = `${vip}:80`;
    // positive control: pod1 uses its namespace's Service
    expect(await tcpFromPod(state, 'isolated-namespace-demo/pod1', [{ host: vip, port: 80 }])).toEqual({ [key]: 'isolated-namespace-demo/pod2' });

    const entry = lab.pods['default/pod4']!;
    entry.networkStatus = [...(entry.networkStatus ?? []), { name: 'made-up', interface: 'eth9', ips: [vip] } as never];
    fs.writeFileSync(`${cf}.tmp`, JSON.stringify(lab));
    fs.renameSync(`${cf}.tmp`, cf);
    // the agent has compiled the edit: the made-up interface is quarantined (main and a fix alike)
    await timeUntil(() => Object.keys(quarantined()).includes('default/pod4@eth9'), 5000, 'pod4@eth9 quarantined');
    const ep = readEndpoints(INSTANCE).get(vip);
    const res = await tcpFromPod(state, 'isolated-namespace-demo/pod1', [{ host: vip, port: 80 }, { host: pod2, port: 80 }]);
    // control after the edit: pod1 still reaches pod2 directly
    expect(res[`${pod2}:80`]).toBe('isolated-namespace-demo/pod2');
    expect({ vipEndpointQuarantined: ep !== undefined && (ep.flags & VW_EP_QUARANTINE) !== 0, viaVip: res[key] }).toEqual({ vipEndpointQuarantined: false, viaVip: 'isolated-namespace-demo/pod2' });
  }, 60_000);
});
