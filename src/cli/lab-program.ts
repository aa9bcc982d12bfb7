// The lab is a program of its own (`vrfwall-lab`, dist/lab/main.js), never
// imported by this one: `vrfwall lab ...` runs it, and the client commands
// ask it where a lab's agents are (`vrfwall-lab agents`). It is found beside
// this installation's CLI or on PATH; the agent's image has none, and says so.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LabAgents } from '../api/client.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const NOT_INSTALLED = 'the lab is not part of this installation (no vrfwall-lab beside it or on PATH; the agent image has none)';

/** How to run the lab program: node on the one beside this CLI, else `vrfwall-lab` on PATH. */
export function labProgram(): { file: string; args: string[] } | undefined {
  const beside = path.resolve(here, '../lab/main.js');
  if (fs.existsSync(beside)) return { file: process.execPath, args: [beside] };
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const f = path.join(dir || '.', 'vrfwall-lab');
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return { file: f, args: [] };
    } catch {
      // not here
    }
  }
  return undefined;
}

/** `vrfwall lab <args>`: the lab program with these arguments, its exit status ours. */
export function runLabProgram(args: string[]): Promise<number> {
  const prog = labProgram();
  if (prog === undefined) {
    process.stderr.write(`vrfwall lab: ${NOT_INSTALLED}\n`);
    return Promise.resolve(1);
  }
  return new Promise((resolve) => {
    const child = spawn(prog.file, [...prog.args, ...args], { stdio: 'inherit' });
    // Ctrl-C reaches the child through the terminal's process group; this
    // process waits for it to clean up and exit.
    const ignore = (): void => undefined;
    process.on('SIGINT', ignore);
    process.on('SIGTERM', ignore);
    child.on('error', (e) => {
      process.stderr.write(`vrfwall lab: ${e.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1)));
  });
}

type LabsUp = Record<string, { node: string; instance: string; relay?: boolean }[]>;

/** The labs that are up and their agents, asked of the lab program once,
 *  when first needed; undefined when this installation has no lab. */
export function labAgentsFromProgram(): LabAgents | undefined {
  const prog = labProgram();
  if (prog === undefined) return undefined;
  let labs: LabsUp | undefined;
  const ask = (): LabsUp => {
    if (labs !== undefined) return labs;
    const r = spawnSync(prog.file, [...prog.args, 'agents'], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`vrfwall-lab agents: ${(r.error?.message ?? r.stderr.trim()) || `exit status ${r.status}`}`);
    return (labs = JSON.parse(r.stdout) as LabsUp);
  };
  return {
    up: () => Object.keys(ask()),
    agents: (lab) => ask()[lab],
    where: (lab) => `vrfwall-lab agents lists no lab "${lab}"`,
  };
}
