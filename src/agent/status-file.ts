// The agent's status file, <run-dir>/<instance>/status.json: written after
// every reconcile (and at start, "running, not synced"); read by the
// DaemonSet's probes (`vrfwall probe`) and by the lab.
import fs from 'node:fs';
import type { AttachMode } from './attach.js';
import type { Finding } from './limits.js';
import type { NotFirst } from './node-reports.js';
import { writeJsonAtomic } from '../util/files.js';

export interface AgentStatus {
  pid: number;
  node: string;
  generation: number;
  synced: boolean;
  attachMode: AttachMode | null;
  /** the node-wide audit setting (--enforcement; docs/audit.md) */
  enforcement?: 'audit' | 'enforce';
  attached: string[];
  quarantined: Record<string, string>;
  /** hooks vrfwall owns: how often it moved itself first again, and where it cannot be first */
  hookOrder: { restored: { ingress: number; egress: number }; notFirst: NotFirst[] };
  /** what the datapath cannot see on this node (docs/limits.md) */
  findings: Finding[];
  /** local secondary interfaces ("ns/pod@ifname") whose node-side interface is not found: not enforced (docs/limits.md) */
  unenforced?: string[];
  time: string;
  lastError?: string;
}

/** Readers see the old or the new status, never half of one. */
export function writeStatusFile(file: string, status: AgentStatus): void {
  writeJsonAtomic(file, status);
}

/** The status, or undefined when there is none (not written yet, unreadable). */
export function readStatusFile(file: string): AgentStatus | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as AgentStatus;
  } catch {
    return undefined;
  }
}
