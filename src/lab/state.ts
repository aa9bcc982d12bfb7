// The lab's state file (/run/vrfwall/lab/<lab>/state.json): everything a later
// `lab matrix` or `lab down` process needs. Written atomically.
import fs from 'node:fs';
import path from 'node:path';
import type { LabPlan } from './plan.js';
import { labDir, stateFile } from './names.js';
import { writeJsonAtomic } from '../util/files.js';

export { writeJsonAtomic };
export interface LabState {
  version: 1;
  lab: string;
  /** "creating" until `lab up` finished */
  phase: 'creating' | 'up';
  createdAt: string;
  manifests: string;
  clusterFile: string;
  plan: LabPlan;
  namespaces: string[];
  responders: { pod: string; pid: number }[];
  /** the lab's kube-proxy (kube-proxy.ts) and API server stand-in, once started */
  kubeProxy?: number;
  apiserver?: number;
  agents: { node: string; instance: string; pid: number; logFile: string }[];
  /** the relay in front of the agents (relay.ts), when agents run */
  relay?: { pid: number; instance: string; listen: string; ui?: string; logFile: string };
}

export function writeState(state: LabState): void {
  writeJsonAtomic(stateFile(state.lab), state);
}

export function readState(lab: string): LabState | undefined {
  let text: string;
  try {
    text = fs.readFileSync(stateFile(lab), 'utf8');
  } catch {
    return undefined;
  }
  const state = JSON.parse(text) as LabState;
  if (state.version !== 1) throw new Error(`${stateFile(lab)}: unknown version ${String(state.version)}`);
  return state;
}

export function labExists(lab: string): boolean {
  return fs.existsSync(labDir(lab));
}
