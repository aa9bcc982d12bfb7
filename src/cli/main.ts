#!/usr/bin/env node
// vrfwall command line: the agent and the lab.
import { Command } from 'commander';
import { registerAgentCommand } from './agent.js';
import { packageVersion } from '../util/version.js';

const program = new Command('vrfwall')
  .description('CN2-style network segmentation for Kubernetes, enforced by eBPF')
  .version(packageVersion());
registerAgentCommand(program);
// The agent runs on every node and its start is on the clock: the other
// commands' modules (the lab, probes, the API client) load only for them.
if (process.argv[2] !== 'agent') {
  const [{ registerLabCommands }, { registerProbeCommand }, { registerApiCommands }] = await Promise.all([
    import('./lab.js'),
    import('./probe.js'),
    import('./flows.js'),
  ]);
  registerLabCommands(program);
  registerProbeCommand(program);
  registerApiCommands(program);
}
await program.parseAsync(process.argv);
