// `vrfwall agent`: one per node. Every flag comes from the settings table in
// src/agent/config.ts (flags, VRFWALL_* variables and --config file agree);
// the whole configuration is checked before anything touches the kernel, and
// a mistake exits with status 2 and a message naming the setting.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import pino, { type Logger } from 'pino';
import { native } from '../kernel/native.js';
import { Agent } from '../agent/agent.js';
import { AGENT_OPTIONS, ConfigError, loadAgentConfig, type LoadInputs, type ResolvedAgent } from '../agent/config.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { ManifestSource } from '../sources/manifests.js';
import type { ManifestOverlay } from '../sources/overlay.js';
import type { StateSource } from '../sources/source.js';
import { collectGarbage, startMemoryReducer } from '../util/memory.js';
import { optionOf } from './options.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_BPF_DIR = path.resolve(here, '../../build/bpf');

/** Exit status for configuration errors (usage), distinct from runtime failures (1). */
export const EXIT_CONFIG = 2;

/** What a program that embeds the agent adds to it (the lab: its cluster
 *  file completes the manifests, and gives the pod and Service ranges). */
export interface AgentExtension {
  overlay?: ManifestOverlay;
  cidrDefaults?: LoadInputs['cidrDefaults'];
}

function fail(message: string): never {
  process.stderr.write(`vrfwall agent: ${message}\n`);
  process.exit(EXIT_CONFIG);
}

function logger(r: ResolvedAgent): Logger {
  const { logFile, logLevel, nodeName } = r.settings;
  const dest = logFile !== undefined ? pino.destination({ dest: logFile, mkdir: true, sync: true }) : pino.destination(1);
  return pino({ level: logLevel, base: { node: nodeName } }, dest);
}

async function runAgent(flags: Record<string, unknown>, extension: AgentExtension): Promise<void> {
  let resolved: ResolvedAgent;
  try {
    resolved = loadAgentConfig({ flags, env: process.env, defaultBpfDir: DEFAULT_BPF_DIR, ...(extension.cidrDefaults !== undefined ? { cidrDefaults: extension.cidrDefaults } : {}) });
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
  const { config, settings } = resolved;
  const log = logger(resolved);
  // The addon is loaded here, not at import: the client commands share this
  // binary and must work where it cannot load (another platform, no prebuild).
  try {
    native();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    log.fatal({ err: message }, 'agent failed to start');
    process.stderr.write(`vrfwall agent: ${message}\n`);
    process.exit(1);
  }
  if (settings.cleanup) {
    await Agent.cleanup(config, log);
    return;
  }
  let source: StateSource;
  if (settings.source === 'kube') {
    // Loaded only when used: @kubernetes/client-node takes ~0.4 s to import.
    const { KubeSource, loadKubeConfig } = await import('../sources/kube.js');
    let kubeConfig: KubeConfig;
    try {
      kubeConfig = loadKubeConfig(settings.kubeconfig);
    } catch (e) {
      fail(`--kubeconfig: ${e instanceof Error ? e.message : String(e)}`);
    }
    const apiTimeoutMs = settings.apiTimeout * 1000;
    source = new KubeSource({
      kubeConfig,
      logger: log,
      nodeName: config.nodeName,
      requestTimeoutMs: apiTimeoutMs,
      keepAliveMs: Math.min(apiTimeoutMs, 30_000),
      watchSessionSeconds: settings.watchSession,
    });
  } else {
    // loadAgentConfig requires at least one unless --cleanup; several are read as one.
    if (settings.manifests.length === 0) fail('--manifests is required');
    source = new ManifestSource({
      dirs: settings.manifests,
      ...(extension.overlay !== undefined ? { overlay: extension.overlay } : {}),
      logger: log,
    });
  }
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
    // The first sync's garbage back to the system now, later bursts' once the
    // agent is quiet and the heap has grown by 16 MB, and the young generation
    // a burst grew shrunk when quiet (src/util/memory.ts). While busy only at
    // 256 MB of growth: a forced full collection is a ~100 ms pause at 100k
    // pods that the changes arriving then wait for (at 64 MB: one every ~2 s
    // of changes, p99 42-118 ms at 100k pods in bench part 3); without any,
    // V8 let the heap of a burst of changes reach 640-750 MB.
    const release = (): boolean => {
      try {
        return native().releaseMemory().collected;
      } catch {
        return collectGarbage(); // an addon without it
      }
    };
    const rss = process.memoryUsage.rss();
    const t0 = performance.now();
    if (release()) log.info({ rssMB: Math.round(rss / 2 ** 20), afterMB: Math.round(process.memoryUsage.rss() / 2 ** 20), ms: Math.round(performance.now() - t0) }, 'memory of the first sync released');
    startMemoryReducer({
      release,
      periodMs: 1000,
      growthBytes: 256 * 2 ** 20,
      quietGrowthBytes: 16 * 2 ** 20,
      quietSlackBytes: 16 * 2 ** 20,
      quietUtilization: 0.1,
      quietYoungBytes: 4 * 2 ** 20,
      onCollect: (r) => log.debug(r, 'heap collected'),
    });
  } catch (e) {
    log.fatal({ err: e instanceof Error ? e.message : String(e) }, 'agent failed to start');
    process.exit(1);
  }
}

/** Adds `agent` to a program. `extend`: what an embedding program adds, from
 *  the parsed flags (which may include options it added to the command). */
export function registerAgentCommand(program: Command, extend: (flags: Record<string, unknown>) => AgentExtension = () => ({})): Command {
  const cmd = program
    .command('agent')
    .description(
      'run the per-node agent: watch cluster state, program the BPF maps, attach to local pods. ' +
        'Every setting can be a flag, an environment variable or a key of the --config YAML file ' +
        '(precedence: flag > environment > file > default).',
    );
  for (const o of AGENT_OPTIONS) cmd.addOption(optionOf(o));
  // Unknown flags and missing flag arguments are configuration errors too.
  cmd.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_CONFIG));
  cmd.action(async (flags: Record<string, unknown>) => {
    let extension: AgentExtension;
    try {
      extension = extend(flags);
    } catch (e) {
      if (e instanceof ConfigError) fail(e.message);
      throw e;
    }
    return runAgent(flags, extension);
  });
  return cmd;
}
