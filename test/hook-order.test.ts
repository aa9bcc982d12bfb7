// Enforcement runs first (issue 11, point 5), on the real kernel with real
// traffic. A program that ends the chain (tcx: TCX_PASS; cls_bpf direct
// action: TC_ACT_OK) and runs before vrfwall on a pod's hook decides in its
// place. Attacks: such a program attached before the agent starts (as a CNI's
// may be), and one attached first while the agent runs; in tc mode, a foreign
// cls_bpf filter at priority 1, and one of another protocol that vrfwall cannot
// share priority 1 with. Each time: the isolated pair stays dropped (or, where
// vrfwall cannot be first, it says so), and an allowed pair passes.
import { execFileSync, spawn } from 'node:child_process';
import YAML from 'yaml';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native, type TcDirection } from '../src/kernel/native.js';
import type { AgentStatus } from '../src/agent/status-file.js';
import { TC_HANDLE, TC_HANDLE_ALT, TC_PRIORITY } from '../src/agent/attach.js';
import { agentSpecs, type AgentSpec } from '../src/lab/agents.js';
import { labDown, labMatrix, labUp } from '../src/lab/lab.js';
import { PIN_ROOT, agentStatusFile, clusterFile, netnsPath } from '../src/lab/names.js';
import { isAlive } from '../src/lab/procs.js';
import { writeState, type LabState } from '../src/lab/state.js';
import { freshPinRoot } from './helpers/datapath.js';
import { ip, withNetns } from './helpers/netns.js';
import { PROBE_PORT, receiveIn, sendFrom, vxlanInner } from './helpers/tunnel.js';
import { ROOT, matrixMismatches, podOf, readCounters, startAgentWith, timeUntil, udpStream } from './helpers/lab.js';
import { DropReason, Verdict } from '../src/kernel/abi.js';
import { EXAMPLE, exampleOpen } from './helpers/cn2-example.js';

const run = promisify(execFile);
const FIXTURE = path.join(ROOT, 'build/fixtures/pass.bpf.o');
const XDP_FIXTURE = path.join(ROOT, 'build/fixtures/xdp_pass.bpf.o');
const LAB = 'tcxsec';
const INSTANCE = `${LAB}-node1`;
const POD1 = 'isolated-namespace-demo/pod1';
const POD2 = 'isolated-namespace-demo/pod2';
const POD3 = 'non-isolated-namespace-demo/pod3';
const POD4 = 'default/pod4';
const DIRS: TcDirection[] = ['ingress', 'egress'];
const VXLAN_PORT_UNUSED = PROBE_PORT;

/** The capabilities the DaemonSet gives the agent container (deploy/daemonset.yaml). */
function daemonSetCaps(): string[] {
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(ROOT, 'deploy/daemonset.yaml'), 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
  const ds = docs.find((d) => d.kind === 'DaemonSet') as { spec: { template: { spec: { containers: { securityContext: { capabilities: { add: string[] } } }[] } } } };
  return ds.spec.template.spec.containers[0]!.securityContext.capabilities.add;
}

const bpf = native();

interface LogLine {
  msg?: string;
  level?: number;
  interface?: string;
  direction?: string;
  foreign?: string[];
  why?: string;
  finding?: string;
  subject?: string;
}

describe('vrfwall runs first on every hook it owns', () => {
  const pinRoot = freshPinRoot('ttcx-');
  let state: LabState;
  let spec: AgentSpec;
  let pid = 0;
  // fx_pass returns TC_ACT_OK (= TCX_PASS): it ends the chain. A tcx hook
  // holds a program once, so each attack loads its own copy.
  const passes: number[] = [];
  let pass = -1;
  const foreignLinks: number[] = [];

  const node = (): string => state.plan.nodes[0]!.netns;
  const hostIf = (pod: string): string => podOf(state, pod).hostIf!;
  const ifindex = (pod: string): number => withNetns(node(), () => bpf.ifNameToIndex(hostIf(pod)));
  const chain = (pod: string, dir: TcDirection) => withNetns(node(), () => bpf.tcxChain(bpf.ifNameToIndex(hostIf(pod)), dir));
  const filters = (pod: string, dir: TcDirection) =>
    withNetns(node(), () => bpf.tcList(bpf.ifNameToIndex(hostIf(pod)), dir).filter((f) => f.chain === 0));
  /** The id of the link pinned for this hook (the agent's). */
  const pinnedLink = (pod: string, dir: TcDirection): number => {
    const fd = bpf.objGet(path.join(PIN_ROOT, INSTANCE, 'links', `${ifindex(pod)}-${dir}`));
    try {
      return bpf.linkInfo(fd).id;
    } finally {
      bpf.closeFd(fd);
    }
  };
  const vrfwallFirst = (pod: string, dir: TcDirection): boolean => chain(pod, dir).linkIds[0] === pinnedLink(pod, dir);
  const podsWithIf = (): string[] => state.plan.pods.filter((p) => p.hostIf !== undefined).map((p) => p.key);
  const status = (): AgentStatus => JSON.parse(fs.readFileSync(agentStatusFile(INSTANCE), 'utf8')) as AgentStatus;
  const logLines = (): LogLine[] =>
    fs.readFileSync(spec.logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine);
  const metrics = async (): Promise<string> =>
    (await run('nsenter', [`--net=${netnsPath(node())}`, '--', 'curl', '-sf', 'http://127.0.0.1:9477/metrics'])).stdout;
  const metric = (text: string, name: string, labels: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
    return line === undefined ? NaN : Number(line.split(' ').pop());
  };

  /** Attach fx_pass through tcx on a pod's hook from this process (the link lives while we hold it). */
  function attachPass(pod: string, dir: TcDirection, where: 'first' | 'last', prog = pass): number {
    const fd = withNetns(node(), () => bpf.tcxAttach(prog, bpf.ifNameToIndex(hostIf(pod)), dir, where));
    foreignLinks.push(fd);
    return bpf.linkInfo(fd).id;
  }

  async function freshLab(): Promise<void> {
    await labDown(LAB);
    state = await labUp(EXAMPLE, { lab: LAB, nodes: 1, agent: false, log: () => undefined });
    spec = agentSpecs(state.plan, state.manifests)[0]!;
  }

  /** Start the node's agent with VRFWALL_* settings; wait until it has synced and attached. */
  async function startAgent(env: Record<string, string>): Promise<void> {
    pid = await startAgentWith(state, spec, env);
  }

  /** The isolated pair (pod3 -> pod1) is dropped and an allowed pair passes, over the same time. */
  async function expectEnforced(allowed: [string, string] = [POD1, POD2]): Promise<void> {
    const [iso, ok] = await Promise.all([udpStream(state, POD3, POD1, 600), udpStream(state, allowed[0], allowed[1], 600)]);
    expect(iso.sent).toBeGreaterThan(50);
    expect(ok.sent).toBeGreaterThan(50);
    expect(ok.received).toBe(ok.sent);
    expect(iso.received).toBe(0);
  }

  function dropForeignLinks(): void {
    for (const fd of foreignLinks.splice(0)) {
      try {
        bpf.linkDetach(fd);
      } catch {
        // its device is gone with the lab
      }
      bpf.closeFd(fd);
    }
  }

  /** A new copy of fx_pass (a program of its own, with its own id). */
  function loadPass(): number {
    const obj = bpf.loadObject(FIXTURE, { pinRoot });
    const fd = obj.programs.fx_pass!;
    for (const [name, other] of [...Object.entries(obj.programs), ...Object.entries(obj.maps)]) if (name !== 'fx_pass') bpf.closeFd(other);
    passes.push(fd);
    return fd;
  }

  beforeAll(() => {
    pass = loadPass();
  });
  afterAll(async () => {
    if (pid !== 0 && isAlive(pid)) process.kill(pid, 'SIGCONT');
    dropForeignLinks();
    await labDown(LAB);
    for (const fd of passes) bpf.closeFd(fd);
    fs.rmSync(pinRoot, { recursive: true, force: true });
  });

  describe('tcx', () => {
    beforeAll(async () => {
      await freshLab();
    });

    it('a TCX_PASS program attached before the agent starts does not get past it', async () => {
      // The CNI was there first: a program that passes everything on every pod hook.
      const passId = bpf.progId(pass);
      for (const pod of podsWithIf()) for (const dir of DIRS) attachPass(pod, dir, 'last');
      for (const pod of podsWithIf()) for (const dir of DIRS) expect(chain(pod, dir).progIds).toEqual([passId]);

      await startAgent({ VRFWALL_RESYNC: '1' });
      await expectEnforced();
      expect(matrixMismatches(await labMatrix(LAB), exampleOpen)).toEqual([]);
      // vrfwall first on every hook, the CNI's program still there behind it.
      const own = new Set(DIRS.map((d) => chain(POD1, d).progIds[0]));
      expect(own.has(passId)).toBe(false);
      for (const pod of podsWithIf()) {
        for (const dir of DIRS) {
          expect(chain(pod, dir).linkIds[0]).toBe(pinnedLink(pod, dir));
          expect(chain(pod, dir).progIds.slice(1)).toEqual([passId]);
        }
      }
      // The foreign programs on pod interfaces are reported (docs/limits.md).
      const found = status().findings.filter((f) => f.kind === 'pod-interface-program');
      expect(found.map((f) => f.subject).sort()).toEqual(
        podsWithIf().map((p) => `device ${hostIf(p)} (Pod ${p})`).sort(),
      );
      expect(found.every((f) => f.detail.includes('fx_pass'))).toBe(true);
      // Nothing else: the lab's node (kube-proxy rules, underlay) is clean.
      expect(status().findings.filter((f) => f.kind !== 'pod-interface-program')).toEqual([]);
      expect(status().hookOrder.notFirst).toEqual([]);
    });

    it('a program attached first while the agent runs is put behind vrfwall within one resync, and reported', async () => {
      const passId = bpf.progId(pass);
      const second = loadPass();
      const secondId = bpf.progId(second);
      // Pause the agent so the attack can be shown to work, then let it act.
      process.kill(pid, 'SIGSTOP');
      try {
        // Both hooks of both pods: the stream counts replies.
        for (const pod of [POD3, POD1]) {
          for (const dir of DIRS) {
            attachPass(pod, dir, 'first', second);
            expect(chain(pod, dir).progIds[0]).toBe(secondId);
          }
        }
        const open = await udpStream(state, POD3, POD1, 300);
        expect(open.received).toBeGreaterThan(0); // the attack: isolation bypassed
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      const ms = await timeUntil(() => [POD3, POD1].every((p) => DIRS.every((d) => vrfwallFirst(p, d))), 3000, 'vrfwall first again');
      console.info(`vrfwall first again ${ms.toFixed(0)} ms after the agent resumed (resync 1 s)`);
      await expectEnforced();
      for (const p of [POD3, POD1]) for (const d of DIRS) expect(chain(p, d).progIds.slice(1)).toEqual([secondId, passId]); // nothing of ours left behind

      // Reported: warn log naming interface and program, status, metric.
      await timeUntil(() => status().hookOrder.restored.egress >= 2 && status().hookOrder.restored.ingress >= 2, 3000, 'status');
      const restored = logLines().filter((l) => l.msg === 'vrfwall was not first on its hook: attached itself first again');
      expect(restored.find((l) => l.interface === hostIf(POD3) && l.direction === 'ingress')?.foreign?.[0]).toMatch(/fx_pass, tcx/);
      expect(restored.find((l) => l.interface === hostIf(POD1) && l.direction === 'egress')?.level).toBe(40);
      const m = await metrics();
      expect(metric(m, 'vrfwall_hook_order_restored_total', 'direction="ingress"')).toBe(2);
      expect(metric(m, 'vrfwall_hook_order_restored_total', 'direction="egress"')).toBe(2);
      expect(metric(m, 'vrfwall_hooks_not_first', 'direction="egress"')).toBe(0);
    });

    it('a restarted agent adopting its links keeps them first', async () => {
      process.kill(pid, 'SIGTERM');
      await timeUntil(() => !isAlive(pid), 5000, 'agent exit');
      const passId = bpf.progId(pass);
      const third = loadPass();
      attachPass(POD2, 'egress', 'first', third); // while no agent runs
      await startAgent({ VRFWALL_RESYNC: '1' });
      expect(vrfwallFirst(POD2, 'egress')).toBe(true); // the adopted link was updated, and moved first
      expect(chain(POD2, 'egress').progIds.slice(1)).toEqual([bpf.progId(third), passId]);
      await expectEnforced([POD2, POD1]);
    });

    it('reports an XDP program on a pod interface, which runs before any tc hook, until it is gone', async () => {
      const dev = hostIf(POD4);
      execFileSync('ip', ['-n', node(), 'link', 'set', 'dev', dev, 'xdpgeneric', 'obj', XDP_FIXTURE, 'sec', 'xdp']);
      try {
        await timeUntil(() => status().hookOrder.notFirst.length === 1, 3000, 'XDP reported');
        expect(status().hookOrder.notFirst[0]).toMatchObject({
          interface: dev,
          pod: POD4,
          direction: 'ingress',
          ahead: [expect.stringMatching(/fx_xdp_pass, xdp generic/)],
          why: expect.stringContaining('XDP runs before tc'),
        });
        expect(metric(await metrics(), 'vrfwall_hooks_not_first', 'direction="ingress"')).toBe(1);
      } finally {
        execFileSync('ip', ['-n', node(), 'link', 'set', 'dev', dev, 'xdpgeneric', 'off']);
      }
      await timeUntil(() => status().hookOrder.notFirst.length === 0, 3000, 'XDP report cleared');
    });

    it('a pod cannot launder a forged source through the node\'s VXLAN device (TUNNEL), which would deliver it; the device is reported', async () => {
      const n = node();
      ip(['-n', n, 'link', 'add', 'ttcx-vx', 'type', 'vxlan', 'id', '42', 'dstport', '4789']);
      try {
        ip(['-n', n, 'link', 'set', 'ttcx-vx', 'up']);
        const vxMac = (JSON.parse(ip(['-n', n, '-j', 'link', 'show', 'ttcx-vx'])) as { address: string }[])[0]!.address;
        const p1 = podOf(state, POD1).ips.v4;
        const p2 = podOf(state, POD2).ips.v4;
        const gateway = state.plan.nodes[0]!.gateway.v4;
        // Positive control: the node itself sending the wrapped packet to its VXLAN port gets pod2's forged
        // source delivered to pod1, so the device is live and a laundered packet would arrive.
        const fromNode = receiveIn(podOf(state, POD1).netns, 3000);
        sendFrom(n, gateway, 4789, vxlanInner(vxMac, p2, p1));
        expect(await fromNode).toBe(p2);
        // The attack: pod3 (not pod1's network) sends the same; its from_pod drops it as a tunnel.
        const tunnelDrops = () =>
          readCounters(INSTANCE)
            .filter((c) => c.verdict === Verdict.DROPPED && c.code === DropReason.TUNNEL)
            .reduce((sum, c) => sum + c.packets, 0n);
        const before = tunnelDrops();
        const wrapped = receiveIn(podOf(state, POD1).netns, 1500);
        sendFrom(podOf(state, POD3).netns, gateway, 4789, vxlanInner(vxMac, p2, p1));
        expect(await wrapped).toBe('');
        expect(tunnelDrops()).toBeGreaterThanOrEqual(before + 3n);
        await timeUntil(() => status().findings.some((f) => f.kind === 'overlay-device' && f.subject === 'device ttcx-vx'), 3000, 'overlay reported');
      } finally {
        ip(['-n', n, 'link', 'del', 'ttcx-vx']);
      }
    });

    it('with only the DaemonSet capabilities it moves itself first too (foreign programs named by id)', async () => {
      process.kill(pid, 'SIGTERM');
      await timeUntil(() => !isAlive(pid), 5000, 'agent exit');
      const set = daemonSetCaps().map((c) => `+${c.toLowerCase()}`).join(',');
      const child = spawn(
        'nsenter',
        [
          `--net=${netnsPath(node())}`, '--',
          'setpriv', '--inh-caps', `-all,${set}`, '--ambient-caps', `-all,${set}`, '--bounding-set', `-all,${set}`, '--',
          process.execPath, path.join(ROOT, 'dist/lab/main.js'), 'agent', '--node-name', 'node1', '--instance', INSTANCE,
          '--manifests', state.manifests, '--lab-file', clusterFile(LAB), '--resync', '1', '--log-file', spec.logFile,
        ],
        { stdio: 'ignore', detached: true },
      );
      pid = child.pid!;
      child.unref();
      state.agents = [{ node: spec.node, instance: spec.instance, pid, logFile: spec.logFile }];
      writeState(state);
      await timeUntil(() => {
        try {
          return status().pid === pid && status().synced;
        } catch {
          return false;
        }
      }, 15_000, 'capped agent synced');
      const fourth = loadPass();
      const before = status().hookOrder.restored.ingress;
      attachPass(POD4, 'ingress', 'first', fourth);
      await timeUntil(() => vrfwallFirst(POD4, 'ingress'), 3000, 'capped agent first again');
      await timeUntil(() => status().hookOrder.restored.ingress > before, 3000, 'counted');
      const line = logLines().filter((l) => l.msg === 'vrfwall was not first on its hook: attached itself first again' && l.interface === hostIf(POD4)).pop();
      // Without CAP_SYS_ADMIN a program cannot be opened by id: its id is all there is.
      expect(line?.foreign?.[0]).toBe(`id ${bpf.progId(fourth)} (?, tcx)`);
      expect(status().lastError).toBeUndefined();
      await expectEnforced();
    });
  });

  describe('tc (clsact/cls_bpf) fallback', () => {
    const tc = (args: string[]): void => {
      execFileSync('ip', ['netns', 'exec', node(), 'tc', ...args], { stdio: 'pipe' });
    };
    const first = (pod: string, dir: TcDirection) => filters(pod, dir)[0];

    beforeAll(async () => {
      if (pid !== 0 && isAlive(pid)) process.kill(pid, 'SIGKILL');
      dropForeignLinks();
      await freshLab();
    });

    it('takes priority 1 ahead of a foreign cls_bpf filter there, before and after the agent starts', async () => {
      // A CNI's pass-everything filter at priority 1 on the isolated pair's hooks.
      withNetns(node(), () => {
        bpf.tcAttach(pass, bpf.ifNameToIndex(hostIf(POD3)), 'ingress', 1, TC_PRIORITY);
        bpf.tcAttach(pass, bpf.ifNameToIndex(hostIf(POD1)), 'egress', 1, TC_PRIORITY);
      });
      await startAgent({ VRFWALL_RESYNC: '1', VRFWALL_ATTACH_MODE: 'tc' });
      await expectEnforced();
      for (const [pod, dir] of [[POD3, 'ingress'], [POD1, 'egress']] as const) {
        expect(filters(pod, dir).map((f) => [f.priority, f.handle])).toEqual([[TC_PRIORITY, TC_HANDLE], [TC_PRIORITY, 1]]);
      }

      // Another one at priority 1 while the agent runs goes to the head of the list.
      process.kill(pid, 'SIGSTOP');
      try {
        withNetns(node(), () => bpf.tcAttach(pass, bpf.ifNameToIndex(hostIf(POD1)), 'egress', 2, TC_PRIORITY));
        expect(first(POD1, 'egress')?.handle).toBe(2);
        expect((await udpStream(state, POD3, POD1, 300)).received).toBe(0); // pod3's from-pod hook still holds
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await timeUntil(() => first(POD1, 'egress')?.handle === TC_HANDLE_ALT, 3000, 'vrfwall first again (tc)');
      // Make before break: the new filter goes in first, then the old one goes.
      await timeUntil(() => filters(POD1, 'egress').length === 3, 3000, 'the old filter removed');
      expect(filters(POD1, 'egress').map((f) => f.handle)).toEqual([TC_HANDLE_ALT, 2, 1]);
      await timeUntil(() => status().hookOrder.restored.egress >= 1, 3000, 'restore counted');
      await expectEnforced();
    });

    it('reports a priority-1 filter it cannot share, runs right behind it, and moves up once it is gone', async () => {
      // An IPv4-only filter at priority 1 on pod2's to-pod hook: cls_bpf
      // cannot hold two protocols at one priority, so vrfwall cannot be first.
      process.kill(pid, 'SIGSTOP');
      const dev = hostIf(POD2);
      try {
        withNetns(node(), () => bpf.tcDetach(bpf.ifNameToIndex(dev), 'egress', TC_HANDLE, TC_PRIORITY));
        tc(['filter', 'add', 'dev', dev, 'egress', 'prio', '1', 'handle', '1', 'protocol', 'ip', 'bpf', 'da', 'obj', FIXTURE, 'sec', 'tc']);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await timeUntil(() => status().hookOrder.notFirst.length === 1, 3000, 'not-first reported');
      expect(status().hookOrder.notFirst[0]).toMatchObject({
        interface: dev,
        pod: POD2,
        direction: 'egress',
        why: expect.stringMatching(/priority 1 is held by a bpf filter \(protocol 0x800\) that vrfwall cannot share/),
      });
      expect(filters(POD2, 'egress').map((f) => [f.priority, f.protocol])).toEqual([[1, 0x800], [2, 3]]);
      const warn = logLines().find((l) => l.msg?.startsWith('vrfwall cannot run first on its hook') && l.interface === dev);
      expect(warn?.level).toBe(40);
      expect(metric(await metrics(), 'vrfwall_hooks_not_first', 'direction="egress"')).toBe(1);
      // The sender's from-pod hook still judges what local pods send.
      await expectEnforced([POD2, POD1]);

      // Once that filter is gone, vrfwall takes priority 1 again within a resync.
      tc(['filter', 'del', 'dev', dev, 'egress', 'prio', '1', 'handle', '1', 'protocol', 'ip', 'bpf']);
      await timeUntil(() => first(POD2, 'egress')?.priority === TC_PRIORITY && first(POD2, 'egress')?.kind === 'bpf', 3000, 'priority 1');
      await timeUntil(() => status().hookOrder.notFirst.length === 0, 3000, 'not-first cleared');
      await expectEnforced([POD2, POD1]);
      const iso = await udpStream(state, POD4, POD2, 300);
      expect(iso.sent).toBeGreaterThan(20);
      expect(iso.received).toBe(0);
    });
  });
});
