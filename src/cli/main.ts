#!/usr/bin/env node
// vrfwall command line: the agent and the lab.
import { Command } from 'commander';
import { registerAgentCommand } from './agent.js';
import { registerLabCommands } from './lab.js';

const program = new Command('vrfwall').description('CN2-style network segmentation for Kubernetes, enforced by eBPF');
registerAgentCommand(program);
registerLabCommands(program);
await program.parseAsync(process.argv);
