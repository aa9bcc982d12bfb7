// StateService.WhatIf on an agent: the proposal parsed with the manifest
// source's parser and upserted over a copy of the agent's current cluster
// state, compiled by the same (full, pure) compile step, and the agent's
// retained flows replayed under the current maps' contents and the proposed
// ones. Nothing is written: not the maps, not the agent's state.
import * as grpc from '@grpc/grpc-js';
import { compile } from '../model/compile.js';
import { ProposalError, applyProposal, parseProposal } from '../model/proposal.js';
import { VerdictEvaluator } from '../model/verdict.js';
import type { ClusterState, DesiredState } from '../model/types.js';
import type { Flow, FlowEndpoint } from '../flows/types.js';
import { groupChanges, replayFlows } from '../flows/whatif.js';
import { ApiError, invalid } from './flow-service.js';
import type { WhatIfRequest, WhatIfResponse } from './messages.js';

/** At most this many of the proposed compile's new problems are named in notes. */
const MAX_NOTES = 50;
/** Documents and bytes one request may carry. */
const MAX_DOCUMENTS = 1000;

export interface WhatIfSources {
  node: string;
  podCIDRs: string[];
  serviceCIDRs: string[];
  /** the node-wide audit setting (agent --enforcement audit): taken for every hook, as the DaemonSet's one
   *  ConfigMap sets it for every node; it is not part of a proposal, so the same before and after */
  nodeAudit?: boolean;
  /** the state and desired maps of the last reconcile; undefined before the first */
  current(): { state: ClusterState; desired: DesiredState } | undefined;
  flows(): Iterable<Flow>;
  now(): number;
}

export function whatIf(src: WhatIfSources, req: Partial<WhatIfRequest>): WhatIfResponse {
  const docs = req.documents ?? [];
  if (docs.length === 0) throw invalid('documents: at least one manifest document is required');
  if (docs.length > MAX_DOCUMENTS) throw invalid(`documents: at most ${MAX_DOCUMENTS}`);
  for (const [i, d] of docs.entries()) if (!d.file) throw invalid(`documents[${i}]: file (its name) is required`);
  let proposal: ReturnType<typeof parseProposal>;
  try {
    proposal = parseProposal(docs.map((d) => ({ file: d.file, text: d.text ?? '' })));
  } catch (e) {
    if (e instanceof ProposalError) throw invalid(e.message);
    throw e;
  }
  const current = src.current();
  if (current === undefined) throw new ApiError(grpc.status.UNAVAILABLE, 'the agent has not synced yet: no current state to compare with');

  const notes = [...proposal.notes];
  const proposed = applyProposal(current.state, proposal.objects, notes);
  // A full compile, as the first reconcile does; local interfaces do not
  // change a verdict, and the VRF ids continue the current ones.
  // NetworkPolicy as the agent runs it (--network-policy), its ids continued.
  const networkPolicy = current.desired.policyInfo.enabled;
  const after = compile(proposed, { nodeName: src.node, podCIDRs: src.podCIDRs, serviceCIDRs: src.serviceCIDRs, networkPolicy }, new Map(), current.desired.allocation, new Map(), current.desired.policyInfo);
  const known = new Set(current.desired.problems.map((p) => `${p.source}: ${p.message}`));
  const fresh = after.problems.map((p) => `${p.source}: ${p.message}`).filter((t) => !known.has(t));
  notes.push(...fresh.slice(0, MAX_NOTES));
  if (fresh.length > MAX_NOTES) notes.push(`... and ${fresh.length - MAX_NOTES} more problems of the proposed state`);

  const windowMs = (req.windowSeconds ?? 0) * 1000;
  const since = windowMs > 0 ? src.now() - windowMs : 0;
  const flows = [...src.flows()].filter((f) => f.lastSeenMs >= since);
  const networkAfter = (e: FlowEndpoint): string => {
    if (!e.pod) return '';
    const p = after.placements.get(`${e.namespace}/${e.pod}${e.interface ? `@${e.interface}` : ''}`);
    return p?.kind === 'network' ? p.network : '';
  };
  const opts = { nodeAudit: src.nodeAudit ?? false };
  const { changes, conversations } = replayFlows(flows, { before: new VerdictEvaluator(current.desired, opts), after: new VerdictEvaluator(after, opts), networkAfter });
  return { changes, groups: groupChanges(changes), conversations, applied: proposal.applied, notes, node: src.node };
}
