// How the client commands find a lab's agents: the lab registers this with
// the API client (useLabAgents), which otherwise knows nothing of labs.
import fs from 'node:fs';
import path from 'node:path';
import type { LabAgents } from '../api/client.js';
import { RUN_ROOT, labDir } from './names.js';
import { readState } from './state.js';

export const labAgents: LabAgents = {
  up: () => {
    try {
      return fs.readdirSync(path.join(RUN_ROOT, 'lab')).filter((l) => readState(l)?.phase === 'up');
    } catch {
      return [];
    }
  },
  agents: (lab) => {
    const st = readState(lab);
    if (!st) return undefined;
    // the relay answers for all of them (`--lab`); `--node` still asks one agent
    const relay = st.relay ? [{ node: 'relay', instance: st.relay.instance, relay: true }] : [];
    return [...st.agents.map((a) => ({ node: a.node, instance: a.instance })), ...relay];
  },
  where: (lab) => `no ${labDir(lab)}/state.json`,
};
