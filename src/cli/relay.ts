// `vrfwall relay`: one API endpoint for the whole cluster (src/relay/). Every
// flag comes from the settings table in src/relay/config.ts (flags, VRFWALL_*
// variables and --config file agree); a mistake exits with status 2 and a
// message naming the setting.
import { Command } from 'commander';
import pino from 'pino';
import { ConfigError } from '../agent/config.js';
import { RELAY_OPTIONS, loadRelayConfig } from '../relay/config.js';
import { Relay } from '../relay/relay.js';
import { optionOf } from './options.js';

const EXIT_CONFIG = 2;


export function registerRelayCommand(program: Command): void {
  const cmd = program
    .command('relay')
    .description("one gRPC endpoint for the whole cluster: every agent's flows merged in time order, status per node, explain on the right node");
  for (const o of RELAY_OPTIONS) cmd.addOption(optionOf(o));
  cmd.action(async (flags: Record<string, unknown>) => {
    let config;
    let settings;
    try {
      ({ config, settings } = loadRelayConfig(flags, process.env));
    } catch (e) {
      if (e instanceof ConfigError) {
        process.stderr.write(`vrfwall relay: ${e.message}\n`);
        process.exit(EXIT_CONFIG);
      }
      throw e;
    }
    const dest = settings.logFile !== undefined ? pino.destination({ dest: settings.logFile, mkdir: true, sync: true }) : pino.destination(1);
    const log = pino({ level: settings.logLevel, base: { component: 'relay' } }, dest);
    let relay: Relay;
    try {
      relay = new Relay(config, log);
      await relay.start();
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      log.fatal({ err: message }, 'relay failed to start');
      process.stderr.write(`vrfwall relay: ${message}\n`);
      process.exit(1);
    }
    const stop = (): void => {
      void relay.stop().then(() => process.exit(0));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
