#!/usr/bin/env node
// vrfwall-lab: the lab, a program of its own beside the product. It builds
// on the product's public modules; the product never imports it (`vrfwall
// lab ...` runs this program, src/cli/lab-program.ts). Its `agent` is
// `vrfwall agent` with the lab's cluster file completing the manifests.
import { Command } from 'commander';
import { registerAgentCommand } from '../cli/agent.js';
import { ConfigError } from '../agent/config.js';
import { packageVersion } from '../util/version.js';
import { labFileCidrsOf, labOverlay } from './cluster-file.js';

const program = new Command('vrfwall-lab')
  .description('a real multi-node test topology in network namespaces (vrfwall-<name>-*), from a manifests directory')
  .version(packageVersion());
registerAgentCommand(program, (flags) => {
  const file = flags.labFile;
  if (typeof file !== 'string') throw new ConfigError('lab-file', '--lab-file is required');
  return { overlay: labOverlay(file), cidrDefaults: () => labFileCidrsOf(file) };
})
  .description("the lab's agent of one node: `vrfwall agent` whose manifests the lab's cluster file completes (nodes, pod placement and addresses)")
  .option('--lab-file <file>', 'the lab cluster file (pod IPs, nodes, ClusterIPs), watched; gives pod/Service CIDRs unless set');
// An agent's start is on the clock: the lab's own modules load only for the other commands.
if (process.argv[2] !== 'agent') {
  const { registerAgentsCommand, registerLabCommands } = await import('./cli.js');
  registerLabCommands(program);
  registerAgentsCommand(program);
}
await program.parseAsync(process.argv);
