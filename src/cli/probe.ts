// `vrfwall probe`: what a running agent last reported in
// <run-dir>/<instance>/status.json. The DaemonSet's exec probes use it:
//   readiness  `vrfwall probe --ready`  the agent finished its first full sync
//   liveness   `vrfwall probe --live`   the agent runs and keeps reconciling
// It finds the instance and run directory the way the agent does (flags,
// VRFWALL_* variables, --config file), so probes need no extra settings.
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { AGENT_OPTIONS, ConfigError, resolveSettings, type OptionSpec } from '../agent/config.js';
import { readStatusFile, type AgentStatus } from '../agent/status-file.js';
import YAML from 'yaml';
import { isAlive as alive } from '../util/process.js';

const SHARED = new Set(['config', 'instance', 'run-dir']);
const OPTIONS: OptionSpec[] = AGENT_OPTIONS.filter((o) => SHARED.has(o.name));

export interface Verdict {
  ok: boolean;
  why: string;
  status?: AgentStatus;
}


/**
 * Pure judgement of a status file's content. Ready: the writer runs and has
 * synced at least once. Live: the writer runs and, once synced, rewrote the
 * file within maxAgeMs (every reconcile does, the periodic resync included);
 * before the first sync (e.g. API server unreachable) it counts as live,
 * because a restart would not help and readiness already says "not ready".
 */
export function judge(
  status: AgentStatus | undefined,
  want: 'ready' | 'live',
  opts: { now: number; maxAgeMs: number; isAlive: (pid: number) => boolean },
): Verdict {
  if (!status) return { ok: false, why: 'no status file: the agent has not started' };
  const base = { status };
  if (!opts.isAlive(status.pid)) return { ...base, ok: false, why: `pid ${status.pid} that wrote the status is gone` };
  if (want === 'ready') {
    return status.synced
      ? { ...base, ok: true, why: `ready (generation ${status.generation})` }
      : { ...base, ok: false, why: 'not synced yet' };
  }
  if (!status.synced) return { ...base, ok: true, why: 'live, first sync pending' };
  const age = opts.now - Date.parse(status.time);
  if (!(age <= opts.maxAgeMs)) return { ...base, ok: false, why: `last reconcile ${Math.round(age / 1000)} s ago` };
  return { ...base, ok: true, why: `live (last reconcile ${Math.round(age / 1000)} s ago)` };
}

interface StatusFlags {
  config?: string;
  instance?: string;
  runDir?: string;
  ready?: boolean;
  live?: boolean;
  maxAge: string;
}

export function registerProbeCommand(program: Command): void {
  program
    .command('probe')
    .description("print the local agent's last status.json; with --ready or --live exit 0/1 (the DaemonSet's probes)")
    .option('--config <file>', 'the agent config file (for instance and run-dir)')
    .option('--instance <name>', 'agent instance (default: as the agent resolves it)')
    .option('--run-dir <dir>', 'run directory (default: as the agent resolves it)')
    .addOption(new Option('--ready', 'exit 0 only when the agent finished its first full sync').conflicts('live'))
    .option('--live', 'exit 0 while the agent runs and keeps reconciling')
    .option('--max-age <seconds>', 'with --live: how old the last reconcile may be', '60')
    .action((f: StatusFlags) => {
      let instance: string;
      let runDir: string;
      try {
        let file: unknown;
        const fileName = f.config ?? process.env.VRFWALL_CONFIG;
        if (fileName) {
          // Only the keys status needs; the agent itself checks the rest.
          const all = YAML.parse(fs.readFileSync(fileName, 'utf8')) as Record<string, unknown> | null;
          file = Object.fromEntries(Object.entries(all ?? {}).filter(([k]) => SHARED.has(k) && k !== 'config'));
        }
        const { settings } = resolveSettings(
          { flags: { instance: f.instance, runDir: f.runDir }, env: process.env, file, ...(fileName ? { fileName } : {}) },
          OPTIONS,
        );
        instance = settings.instance;
        runDir = settings.runDir;
      } catch (e) {
        process.stderr.write(`vrfwall probe: ${e instanceof ConfigError || e instanceof Error ? e.message : String(e)}\n`);
        process.exit(2);
      }
      const file = path.join(runDir, instance, 'status.json');
      const status = readStatusFile(file);
      if (!f.ready && !f.live) {
        if (!status) {
          process.stderr.write(`vrfwall probe: no ${file}\n`);
          process.exit(1);
        }
        process.stdout.write(JSON.stringify(status, null, 2) + '\n');
        return;
      }
      const maxAgeMs = Number(f.maxAge) * 1000;
      if (!(maxAgeMs > 0)) {
        process.stderr.write(`vrfwall probe: --max-age ${JSON.stringify(f.maxAge)}: seconds, more than 0\n`);
        process.exit(2);
      }
      const v = judge(status, f.ready ? 'ready' : 'live', { now: Date.now(), maxAgeMs, isAlive: alive });
      process.stdout.write(`${instance}: ${v.why}\n`);
      process.exit(v.ok ? 0 : 1);
    });
}
