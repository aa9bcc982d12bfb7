// The lab's commands (`up`, `matrix`, `down`, `run`, and `agents` for the
// client commands' --lab). The lab program (lab-main.ts, `vrfwall-lab`) calls
// registerLabCommands; `vrfwall lab ...` runs that program.
import { setMaxListeners } from 'node:events';
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolveTargets, useLabAgents, AgentClient } from '../api/client.js';
import { printFlows } from '../cli/flows.js';
import { labAgents } from './agent-sockets.js';
import { DEFAULT_LAB, labDown, labMatrix, labRun, labUp, type UpOptions } from './lab.js';
import { formatMatrix } from './matrix.js';
import { parsePortProbe, type Matrix, type PortProbe } from './protocol.js';
import { CNI_MODES, type CniMode } from './plan.js';

function positiveInt(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${what} must be a positive integer`);
    }
    return n;
  };
}

function portList(value: string): PortProbe[] {
  try {
    return value.split(',').map(parsePortProbe);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

const log = (msg: string) => console.error(`lab: ${msg}`);

const EXIT_BY_SIGNAL: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Runs `fn` with an AbortSignal fired by the first SIGINT/SIGTERM; later
 * signals only say cleanup is in progress (SIGKILL still stops us). Errors
 * become one line on stderr and a non-zero exit code.
 */
async function guarded(command: string, fn: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const ac = new AbortController();
  // Every concurrent child process listens on this signal.
  setMaxListeners(0, ac.signal);
  let caught: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (caught) {
      log('still cleaning up, please wait');
      return;
    }
    caught = sig;
    log(`${sig}: stopping and cleaning up`);
    ac.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await fn(ac.signal);
  } catch (err) {
    console.error(`vrfwall lab ${command}: ${(err as Error).message}`);
    process.exitCode = 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (caught) process.exitCode = EXIT_BY_SIGNAL[caught] ?? 1;
}

function printMatrix(matrix: Matrix, json: boolean): void {
  console.log(json ? JSON.stringify(matrix, null, 2) : formatMatrix(matrix));
}

interface UpFlags {
  nodes: number;
  name: string;
  agent: boolean;
  agentTimeout: number;
  cni: CniMode;
}

/** What `up` and `run` pass on to the lab from their common options. */
function upOptions(o: UpFlags, signal: AbortSignal): UpOptions {
  return { lab: o.name, nodes: o.nodes, agent: o.agent, agentTimeoutMs: o.agentTimeout * 1000, cni: o.cni, signal, log };
}

/** For `run --flows`: the pod-to-pod flows of every node of a lab, as a table. */
async function printLabFlows(lab: string, out: (line: string) => void = console.log): Promise<void> {
  useLabAgents(labAgents);
  const cs = resolveTargets({ lab }).map((t) => new AgentClient(t));
  try {
    // Neighbour discovery and MLD are the node's business, not the matrix's.
    await printFlows(cs, { allow: [], deny: [{ ip: ['fe80::/10', 'ff00::/8'] }], follow: false }, 'table', out);
  } finally {
    for (const c of cs) c.close();
  }
}

/** The lab's commands on `lab` (the lab program itself, or a `lab` command of another). */
export function registerLabCommands(lab: Command): void {

  const withUpOptions = (cmd: Command) =>
    cmd
      .option('--nodes <n>', 'number of nodes (node1..nodeN)', positiveInt('--nodes'), 1)
      .option('--name <lab>', 'lab name (lowercase letters and digits)', DEFAULT_LAB)
      .option('--no-agent', 'do not start agents (no enforcement)')
      .option('--agent-timeout <s>', 'seconds to wait for the agents to sync', positiveInt('--agent-timeout'), 30)
      .addOption(
        new Option('--cni <mode>', 'pod wiring: ptp (veth + host routes, like Calico) or bridge (like flannel)')
          .choices(CNI_MODES)
          .default('ptp'),
      );

  withUpOptions(lab.command('up <dir>'))
    .description(
      'create the lab: node and pod namespaces, responders, one agent per node. Pods are fixed at up; ' +
        'label and annotation changes in <dir> apply live (the agents watch it)',
    )
    .action((dir: string, o: UpFlags) =>
      guarded('up', async (signal) => {
        const state = await labUp(dir, upOptions(o, signal));
        const pods = state.plan.pods.flatMap((p) => [
          `  ${p.key.padEnd(40)} ${p.node.padEnd(8)} ${p.ips.v4} ${p.ips.v6}`,
          // Multus secondary interfaces, as the matrix names them.
          ...(p.attachments ?? []).map((a) => `  ${`${p.key}@${a.interface}`.padEnd(40)} ${a.network.padEnd(8)} ${[a.ips.v4, a.ips.v6].filter(Boolean).join(' ')}`),
        ]);
        const relay = state.relay ? `, a relay (${state.relay.listen} in node1, and behind --lab)` : '';
        console.log(`lab "${o.name}" is up: ${state.plan.nodes.length} node(s), ${state.agents.length} agent(s)${relay}\n${pods.join('\n')}`);
        if (state.relay?.ui !== undefined) {
          const ns = state.plan.nodes[0]?.netns ?? '';
          console.log(`web UI: http://${state.relay.ui}/ inside ${ns} (e.g. ip netns exec ${ns} chromium --no-sandbox http://${state.relay.ui}/; docs/flows.md "Web UI")`);
        }
      }),
    );

  lab
    .command('matrix')
    .description(
      'probe ICMP, TCP and UDP (IPv4 and IPv6) between every pair of pods; from every pod every Service port on its ' +
        'ClusterIPs, externalIPs and LoadBalancer IPs, every NodePort on every node address, every hostPort; and DNS',
    )
    .option('--name <lab>', 'lab name', DEFAULT_LAB)
    .option(
      '--json',
      'print JSON: {"pods": {"ns/pod": {"ns/pod": {"icmp","tcp","udp","icmp6","tcp6","udp6"}}}, ' +
        '"services": {"ns/pod": {"ns/svc:port/PROTO[/v6]" or "ns/svc:port/PROTO externalIP|loadBalancerIP <ip>": bool}}, ' +
        '"nodePorts": {"ns/pod": {"ns/svc:port/PROTO nodePort <n> <node> v4|v6 <address>": bool}}, ' +
        '"hostPorts": {"ns/pod": {"ns/pod hostPort <n>/PROTO <node> v4|v6 <address>": bool}}, "dns": {"ns/pod": bool}}',
    )
    .option(
      '--ports <list>',
      'also probe these protocols and ports on every pod, e.g. tcp/80,udp/81,sctp/80 (SCTP: an INIT answered by an INIT ACK, ' +
        'over raw sockets); JSON: each cell gets "ports": {"TCP/80": {"v4", "v6"}}',
      portList,
    )
    .action((o: { name: string; json?: boolean; ports?: PortProbe[] }) =>
      guarded('matrix', async (signal) => printMatrix(await labMatrix(o.name, { signal, ...(o.ports ? { ports: o.ports } : {}) }), o.json === true)),
    );

  lab
    .command('down')
    .description('remove the lab: agents, responders, namespaces, pins and state')
    .option('--name <lab>', 'lab name', DEFAULT_LAB)
    .action((o: { name: string }) =>
      guarded('down', async () => {
        const r = await labDown(o.name, { log });
        console.log(
          r.namespaces === 0 && r.processes === 0
            ? `lab "${o.name}": nothing to remove`
            : `lab "${o.name}" removed: ${r.namespaces} namespace(s), ${r.processes} process(es)`,
        );
      }),
    );

  withUpOptions(lab.command('run <dir>'))
    .description('up, print the matrix, down (also on Ctrl-C and on errors)')
    .option('--json', 'print the matrix as JSON')
    .option('--flows', "then print the agents' flows of the matrix run (verdicts and drop reasons)")
    .action((dir: string, o: UpFlags & { json?: boolean; flows?: boolean }) =>
      guarded('run', async (signal) => {
        const showFlows = async (name: string, m: Matrix): Promise<void> => {
          printMatrix(m, o.json === true);
          console.log('\nflows seen by the agents (source -> destination, packets and bytes forward/reverse):');
          await printLabFlows(name);
        };
        const matrix = await labRun(dir, { ...(o.flows ? { afterMatrix: showFlows } : {}), ...upOptions(o, signal) });
        if (!o.flows) printMatrix(matrix, o.json === true);
      }),
    );
}

/** `agents --json`: the agents of the labs that are up, for the client
 *  commands of a `vrfwall` that has no lab of its own (src/cli/lab-program.ts). */
export function registerAgentsCommand(lab: Command): void {
  lab
    .command('agents')
    .description('the agents of the labs that are up, and their relay ("relay": true), as JSON: {"<lab>": [{"node", "instance", "relay"?}]}')
    .action(() => {
      const out: Record<string, { node: string; instance: string; relay?: boolean }[]> = {};
      for (const name of labAgents.up()) out[name] = labAgents.agents(name) ?? [];
      console.log(JSON.stringify(out));
    });
}
