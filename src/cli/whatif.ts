// `vrfwall what-if <file or directory>`: which of the recent conversations
// the proposed manifests would cut or open (StateService.WhatIf). The
// manifests are parsed here first with the agent's own parser: a file that
// does not parse is reported (exit 2) and nothing is sent.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { ProposalError, parseProposal, type ManifestText } from '../model/proposal.js';
import { listManifests } from '../sources/manifest-files.js';
import { mergeWhatIf } from '../flows/whatif.js';
import type { WhatIfChangeKind, WhatIfGroupMsg, WhatIfResponse } from '../api/messages.js';
import { clients, fail, nodesText, table, withConnection, type ConnFlags } from './flows.js';

/** Exit status of a proposal that does not parse (nothing was sent). */
export const EXIT_BAD_MANIFEST = 2;

const KIND_TITLE: Record<WhatIfChangeKind, string> = {
  ALLOWED_TO_DROPPED: 'allowed -> DROPPED',
  DROPPED_TO_ALLOWED: 'dropped -> ALLOWED',
  ALLOWED_TO_AUDIT: 'allowed -> AUDIT (would be dropped; passes in audit mode)',
  DROPPED_TO_AUDIT: 'dropped -> AUDIT (passes in audit mode)',
};

/** "90", "90s", "10m", "2h", "1d" -> seconds. */
export function parseWindow(text: string): number {
  const m = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`--window ${JSON.stringify(text)} is not a duration (30s, 10m, 2h, 1d)`);
  const n = Number(m[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  const secs = n * unit;
  if (secs < 1 || secs > 0xffffffff) throw new InvalidArgumentError(`--window ${JSON.stringify(text)}: between 1 s and 136 years`);
  return secs;
}

/** The manifests of a file, or of a directory (recursively, as the manifest source reads one). */
export async function readManifests(target: string): Promise<ManifestText[]> {
  const st = await fs.stat(target).catch((e: NodeJS.ErrnoException) => {
    throw new ProposalError(`${target}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`);
  });
  const files = st.isDirectory() ? (await listManifests(target)).map((rel) => path.join(target, rel)) : [target];
  if (files.length === 0) throw new ProposalError(`${target}: no *.yaml or *.yml file in it`);
  return Promise.all(files.map(async (file) => ({ file, text: await fs.readFile(file, 'utf8') })));
}

const side = (ns: string, net: string): string => (net ? `${ns} (${net})` : ns);

function groupRows(groups: readonly WhatIfGroupMsg[]): string[][] {
  return groups.map((g) => [
    side(g.sourceNamespace, g.sourceNetwork),
    side(g.destinationNamespace, g.destinationNetwork),
    `${g.port || '-'}/${g.protocolName}`,
    `${g.beforeReason} -> ${g.afterReason}`,
    String(g.conversations),
    String(g.packets),
  ]);
}

export function printWhatIf(r: WhatIfResponse): string {
  const out: string[] = [];
  for (const kind of Object.keys(KIND_TITLE) as WhatIfChangeKind[]) {
    const groups = r.groups.filter((g) => g.kind === kind);
    if (groups.length === 0) continue;
    const n = groups.reduce((s, g) => s + g.conversations, 0);
    out.push(`${KIND_TITLE[kind]}: ${n} conversation(s)`);
    out.push(table([['SOURCE', 'DESTINATION', 'PORT', 'BEFORE -> AFTER', 'CONVERSATIONS', 'PACKETS'], ...groupRows(groups)]));
    out.push('');
  }
  const count = (k: WhatIfChangeKind): number => r.changes.filter((c) => c.kind === k).length;
  out.push(
    `summary: ${r.conversations} conversation(s) replayed; ${count('ALLOWED_TO_DROPPED')} allowed -> dropped, ${count('DROPPED_TO_ALLOWED')} dropped -> allowed` +
      (count('ALLOWED_TO_AUDIT') > 0 ? `, ${count('ALLOWED_TO_AUDIT')} allowed -> audit` : '') +
      (count('DROPPED_TO_AUDIT') > 0 ? `, ${count('DROPPED_TO_AUDIT')} dropped -> audit` : '') +
      `; proposal: ${r.applied.join(', ')}`,
  );
  for (const n of r.notes) out.push(`note: ${n}`);
  const nodes = nodesText(r.nodes);
  if (nodes) out.push(`(${nodes})`);
  return out.join('\n');
}

export function registerWhatIfCommand(program: Command): void {
  withConnection(program.command('what-if <path>'))
    .description(
      'which recent conversations the manifests in <path> (a file or a directory) would cut or open: compiled over the current cluster state ' +
        '(kind + namespace + name replaces), the flow history replayed; nothing is applied. Exit 2 when a manifest does not parse',
    )
    .option('--window <duration>', 'only conversations seen in the last 30s, 10m, 2h, 1d (default: every retained flow)', parseWindow)
    .action(async (target: string, f: ConnFlags & { window?: number }) => {
      let documents: ManifestText[];
      try {
        documents = await readManifests(target);
        parseProposal(documents); // the agent's parser: refused here, nothing is sent
      } catch (e) {
        if (e instanceof ProposalError) {
          console.error(`vrfwall what-if: ${e.message}`);
          process.exitCode = EXIT_BAD_MANIFEST;
          return;
        }
        fail('what-if', e);
        return;
      }
      try {
        const req = { documents, windowSeconds: f.window ?? 0 };
        const cs = clients(f);
        try {
          const answers = await Promise.all(cs.map((c) => c.unary<WhatIfResponse>('state', 'WhatIf', req, 60_000)));
          const r = answers.length === 1 ? (answers[0] as WhatIfResponse) : mergeWhatIf(answers, cs.map((c) => c.target.label).join(','));
          console.log(f.output === 'json' ? JSON.stringify(r, null, 2) : printWhatIf(r));
        } finally {
          for (const c of cs) c.close();
        }
      } catch (e) {
        fail('what-if', e);
      }
    });
}
