// `vrfwall agent`: one per node. Flags and environment resolve to one
// AgentConfig, checked before anything touches the kernel.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import pino, { type Logger } from 'pino';
import { Agent, type AgentConfig } from '../agent/agent.js';
import { canonicalCidr } from '../model/ip.js';
import { ManifestSource, parseLabFile } from '../sources/manifests.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_BPF_DIR = path.resolve(here, '../../build/bpf');

interface AgentFlags {
  nodeName?: string;
  manifests?: string;
  labFile?: string;
  instance: string;
  bpffsRoot: string;
  runDir: string;
  bpfDir: string;
  podCidr: string[];
  serviceCidr: string[];
  attachMode: 'auto' | 'tcx' | 'tc';
  resync: string;
  maxEndpoints?: string;
  logFile?: string;
  logLevel: string;
  cleanup: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, ...value.split(',').filter(Boolean)];

function fail(message: string): never {
  process.stderr.write(`vrfwall agent: ${message}\n`);
  process.exit(2);
}

function cidrs(list: string[], flag: string): string[] {
  return list.map((c) => canonicalCidr(c) ?? fail(`${flag} ${JSON.stringify(c)} is not a CIDR`));
}

/** Flags + environment -> config; every mistake is a clear error here. */
function resolveConfig(f: AgentFlags): { config: AgentConfig; manifests: string | undefined } {
  const nodeName = f.nodeName ?? process.env.NODE_NAME;
  if (!nodeName) fail('--node-name (or NODE_NAME) is required');
  if (f.manifests !== undefined && !fs.statSync(f.manifests, { throwIfNoEntry: false })?.isDirectory()) {
    fail(`--manifests ${f.manifests}: not a directory`);
  }
  if (!f.cleanup && f.manifests === undefined) fail('--manifests is required (the only source in this version)');
  if (!/^[a-z0-9][a-z0-9_.-]*$/i.test(f.instance)) fail(`--instance ${JSON.stringify(f.instance)}: use letters, digits, '-', '_', '.'`);
  const resyncMs = Number(f.resync) * 1000;
  if (!(resyncMs >= 100)) fail(`--resync ${JSON.stringify(f.resync)}: seconds, at least 0.1`);
  let maxEndpoints: number | undefined;
  if (f.maxEndpoints !== undefined) {
    maxEndpoints = Number(f.maxEndpoints);
    if (!Number.isInteger(maxEndpoints) || maxEndpoints < 1) fail(`--max-endpoints ${f.maxEndpoints}: a positive integer`);
  }

  let podCIDRs = cidrs(f.podCidr, '--pod-cidr');
  let serviceCIDRs = cidrs(f.serviceCidr, '--service-cidr');
  if (f.labFile !== undefined && (podCIDRs.length === 0 || serviceCIDRs.length === 0)) {
    // The lab file knows the lab's ranges; flags win when given.
    const text = fs.readFileSync(f.labFile, 'utf8');
    const { content, problems } = parseLabFile(text, f.labFile);
    if (!content) fail(`--lab-file: ${problems.map((p) => p.message).join('; ')}`);
    if (podCIDRs.length === 0) podCIDRs = content.raw.podCIDRs;
    if (serviceCIDRs.length === 0) serviceCIDRs = content.raw.serviceCIDRs;
  }
  if (!f.cleanup && podCIDRs.length === 0) fail('--pod-cidr is required (or a --lab-file that has them)');

  return {
    manifests: f.manifests,
    config: {
      nodeName,
      instance: f.instance,
      bpffsRoot: f.bpffsRoot,
      runDir: f.runDir,
      bpfDir: f.bpfDir,
      podCIDRs,
      serviceCIDRs,
      attachMode: f.attachMode,
      resyncMs,
      ...(maxEndpoints !== undefined ? { maxEndpoints } : {}),
    },
  };
}

function logger(f: AgentFlags): Logger {
  const dest = f.logFile !== undefined ? pino.destination({ dest: f.logFile, mkdir: true, sync: true }) : pino.destination(1);
  return pino({ level: f.logLevel, base: { node: f.nodeName ?? process.env.NODE_NAME } }, dest);
}

async function runAgent(f: AgentFlags): Promise<void> {
  const { config, manifests } = resolveConfig(f);
  const log = logger(f);
  if (f.cleanup) {
    await Agent.cleanup(config, log);
    return;
  }
  const source = new ManifestSource({ dir: manifests!, ...(f.labFile !== undefined ? { labFile: f.labFile } : {}), logger: log });
  const agent = new Agent(config, source, log);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping; programs and maps stay pinned and keep enforcing');
    void agent.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: String(e) }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await agent.start();
  } catch (e) {
    log.fatal({ err: e instanceof Error ? e.message : String(e) }, 'agent failed to start');
    process.exit(1);
  }
}

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('run the per-node agent: watch cluster state, program the BPF maps, attach to local pods')
    .option('--node-name <name>', 'this node (default: $NODE_NAME)')
    .option('--manifests <dir>', 'local-manifest source: a directory of Kubernetes YAML, watched')
    .option('--lab-file <file>', 'pod IPs and nodes written by the lab (LabClusterFile JSON), watched')
    .option('--instance <name>', 'name of this agent instance: pins under <bpffs-root>/<instance>', 'default')
    .option('--bpffs-root <dir>', 'bpffs directory for pins', '/sys/fs/bpf/vrfwall')
    .option('--run-dir <dir>', 'directory for status and VRF ids', '/run/vrfwall')
    .option('--bpf-dir <dir>', 'directory with from_pod.o and to_pod.o', DEFAULT_BPF_DIR)
    .option('--pod-cidr <cidr>', 'cluster pod CIDR, repeatable or comma-separated', collect, [])
    .option('--service-cidr <cidr>', 'cluster service CIDR, repeatable or comma-separated', collect, [])
    .addOption(new Option('--attach-mode <mode>', 'tcx links, tc (clsact/cls_bpf), or auto').choices(['auto', 'tcx', 'tc']).default('auto'))
    .option('--resync <seconds>', 'full reconcile period (events drive it otherwise)', '10')
    .option('--max-endpoints <n>', 'size of the endpoints map (only when it is first created)')
    .option('--log-file <file>', 'JSON log to this file instead of stdout')
    .addOption(new Option('--log-level <level>', 'pino log level').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'))
    .option('--cleanup', 'detach every program this instance attached, remove its pins, and exit', false)
    .action(async (f: AgentFlags) => runAgent(f));
}
