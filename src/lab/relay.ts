// The lab's relay (`vrfwall relay`, src/relay/): started with the agents, in
// node1's namespace (where a Deployment would run it), connected to every
// agent's mutual-TLS listener on its node's gateway address; clients reach it
// on its unix socket (the lab's `--lab`, src/api/client.ts) or, inside node1's
// namespace, on its TLS port. A throwaway CA and certificates per lab, made
// with openssl into the lab's run directory (EC keys: a few ms each).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OPERATOR_CLIENT_NAME, RELAY_CLIENT_NAME } from '../api/client-identity.js';
import { RUN_ROOT, labDir, netnsPath } from './names.js';
import type { LabPlan, PlannedNode } from './plan.js';
import { isAlive, spawnDetached, tail } from './procs.js';
import { distScript } from './scripts.js';

/** Ports in the nodes' namespaces: the agents' --grpc-listen and the relay's --listen (deploy/ uses the same). */
export const AGENT_API_PORT = 9444;
export const RELAY_PORT = 9445;
/** The relay's web UI, on node1's loopback (plain HTTP; docs/flows.md "Web UI" says how to open it). */
export const RELAY_UI_LISTEN = '127.0.0.1:9446';
/** The name every agent's certificate carries (the relay checks it instead of an address, as in deploy/relay.yaml). */
export const AGENT_CERT_NAME = 'vrfwall-agent';
const RELAY_READY_TIMEOUT_MS = 15_000;

export interface LabRelay {
  pid: number;
  /** its unix socket is /run/vrfwall/<instance>/api.sock: `lab down` removes /run/vrfwall/<lab>-* */
  instance: string;
  /** its TLS address, inside node1's namespace */
  listen: string;
  /** the web UI's address, inside node1's namespace (absent in states of older labs) */
  ui?: string;
  logFile: string;
}

export interface LabTls {
  dir: string;
  ca: string;
  /** key and certificate of each role */
  agent: { cert: string; key: string };
  relay: { cert: string; key: string };
  client: { cert: string; key: string };
}

export const relayInstance = (lab: string): string => `${lab}-relay`;
export const relaySocket = (lab: string): string => path.join(RUN_ROOT, relayInstance(lab), 'api.sock');
export const labTlsDir = (lab: string): string => path.join(labDir(lab), 'tls');
const relayLogFile = (lab: string): string => path.join(labDir(lab), 'relay.log');
/** The last `lab matrix` result, which the relay's web UI shows. */
export const labMatrixFile = (lab: string): string => path.join(labDir(lab), 'matrix.json');

export function labTls(lab: string): LabTls {
  const dir = labTlsDir(lab);
  const pair = (name: string) => ({ cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) });
  return { dir, ca: path.join(dir, 'ca.crt'), agent: pair('agent'), relay: pair('relay'), client: pair('client') };
}

/** The agents' TLS address: the node's gateway address (reachable from every node over the underlay). */
export function agentApiAddress(node: PlannedNode): string {
  return `${node.gateway.v4}:${AGENT_API_PORT}`;
}

/** A CA and the agents', relay's and a client's certificates, all signed by it (keys 0600 in a 0700 directory). */
export function makeLabTls(lab: string, relayNode: PlannedNode): LabTls {
  const t = labTls(lab);
  fs.mkdirSync(t.dir, { recursive: true, mode: 0o700 });
  const openssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: t.dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-days', '30', '-subj', `/CN=vrfwall lab ${lab} CA`, '-keyout', 'ca.key', '-out', 'ca.crt']);
  const sign = (name: string, san: string): void => {
    openssl(['req', ...ec, '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
    fs.writeFileSync(path.join(t.dir, `${name}.ext`), `subjectAltName=${san}\n`);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  };
  sign('agent', `DNS:${AGENT_CERT_NAME}`);
  // The relay's and the CLI's names are the agents' default --grpc-allowed-clients (as deploy/ issues them),
  // so the lab's agents run with the default; the agents' own name would be refused.
  sign('relay', `DNS:${RELAY_CLIENT_NAME},IP:${relayNode.gateway.v4}`);
  sign('client', `DNS:${OPERATOR_CLIENT_NAME}`);
  for (const f of fs.readdirSync(t.dir)) if (f.endsWith('.key')) fs.chmodSync(path.join(t.dir, f), 0o600);
  return t;
}

/** The agent flags of its TLS listener. */
export function agentApiArgs(t: LabTls, node: PlannedNode): string[] {
  return ['--grpc-listen', agentApiAddress(node), '--grpc-tls-cert', t.agent.cert, '--grpc-tls-key', t.agent.key, '--grpc-tls-ca', t.ca];
}

/** Starts the relay in the first node's namespace, detached; returns once its unix socket is there. */
export async function startRelay(plan: LabPlan, t: LabTls, signal?: AbortSignal): Promise<LabRelay> {
  const node = plan.nodes[0] as PlannedNode;
  const instance = relayInstance(plan.lab);
  const socket = relaySocket(plan.lab);
  const listen = `${node.gateway.v4}:${RELAY_PORT}`;
  const logFile = relayLogFile(plan.lab);
  fs.rmSync(socket, { force: true });
  const args = [
    `--net=${netnsPath(node.netns)}`, '--',
    process.execPath, distScript('cli/main.js'), 'relay',
    '--agents', plan.nodes.map((n) => `${n.name}=${agentApiAddress(n)}`).join(','),
    '--listen', listen,
    '--socket', socket,
    '--tls-cert', t.relay.cert, '--tls-key', t.relay.key, '--tls-ca', t.ca,
    '--agent-tls-server-name', AGENT_CERT_NAME,
    '--node-timeout', '5',
    '--ui-listen', RELAY_UI_LISTEN,
    '--ui-matrix', labMatrixFile(plan.lab),
    '--log-file', logFile,
  ];
  const child = spawnDetached('nsenter', args, { outFile: `${logFile}.out` });
  if (child.pid === undefined) throw new Error('could not start the relay: nsenter did not start');
  child.on('error', () => undefined);
  child.unref();
  const pid = child.pid;
  const deadline = Date.now() + RELAY_READY_TIMEOUT_MS;
  while (!fs.existsSync(socket)) {
    signal?.throwIfAborted();
    if (!isAlive(pid) || Date.now() > deadline) {
      const why = isAlive(pid) ? `no ${socket} after ${RELAY_READY_TIMEOUT_MS / 1000} s` : 'exited before it was ready';
      throw new Error(`relay (pid ${pid}) ${why}; its last output:\n${[tail(logFile, 10), tail(`${logFile}.out`, 10)].filter(Boolean).join('\n')}`);
    }
    await sleep(50);
  }
  return { pid, instance, listen, ui: RELAY_UI_LISTEN, logFile };
}
