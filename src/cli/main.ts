#!/usr/bin/env node
// vrfwall command line: the agent, its probes and the API clients. `vrfwall
// lab` runs the lab, a program of its own (src/cli/lab-program.ts).
import { Command } from 'commander';
import { registerAgentCommand } from './agent.js';
import { packageVersion } from '../util/version.js';

const program = new Command('vrfwall')
  .description('CN2-style network segmentation for Kubernetes, enforced by eBPF')
  .version(packageVersion());
registerAgentCommand(program);
// The agent runs on every node and its start is on the clock: the other
// commands' modules (probes, the API client) load only for them.
if (process.argv[2] === 'lab') {
  const { runLabProgram } = await import('./lab-program.js');
  process.exitCode = await runLabProgram(process.argv.slice(3));
} else {
  if (process.argv[2] === 'relay') {
    const { registerRelayCommand } = await import('./relay.js');
    registerRelayCommand(program);
  } else if (process.argv[2] !== 'agent') {
    const [{ registerProbeCommand }, { registerApiCommands }] = await Promise.all([import('./probe.js'), import('./flows.js')]);
    program.command('lab').description('the lab: a real multi-node test topology in network namespaces (runs vrfwall-lab; `vrfwall lab --help`)');
    registerProbeCommand(program);
    registerApiCommands(program);
    program.command('relay').description('one gRPC endpoint for the whole cluster (`vrfwall relay --help`)');
  }
  await program.parseAsync(process.argv);
}
