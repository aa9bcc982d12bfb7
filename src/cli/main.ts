#!/usr/bin/env node
// vrfwall command line: the agent and the lab.
import { Command } from 'commander';
import { registerAgentCommand } from './agent.js';
import { registerLabCommands } from './lab.js';
import { registerProbeCommand } from './probe.js';
import { registerApiCommands } from './flows.js';

const program = new Command('vrfwall').description('CN2-style network segmentation for Kubernetes, enforced by eBPF');
registerAgentCommand(program);
registerLabCommands(program);
registerProbeCommand(program);
registerApiCommands(program);
await program.parseAsync(process.argv);
