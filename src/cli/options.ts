// A settings table entry (src/agent/config.ts OptionSpec) as a commander
// option: shared by the commands whose settings come from such a table (the
// agent, the relay).
import { Option } from 'commander';
import { helpText, type OptionSpec } from '../agent/config.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** A commander option for a table entry, without a default: "not given" must stay visible. */
export function optionOf(o: OptionSpec): Option {
  const help = helpText(o);
  switch (o.kind) {
    case 'boolean':
      return new Option(`--${o.name}`, help);
    case 'list':
      return new Option(`--${o.name} ${o.arg}`, help).argParser(collect);
    case 'number':
    case 'string':
      return new Option(`--${o.name} ${o.arg}`, help);
  }
}
