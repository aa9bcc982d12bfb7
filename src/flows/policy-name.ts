// NetworkPolicy's part of a flow or an explain step, named: the policy that
// allowed a connection, or the policies selecting the pod when none did.
// The kernel records only the verdict and the drop reason (POLICY_EGRESS,
// POLICY_INGRESS); the names come from the model's verdict evaluator over the
// agent's current desired state (src/model/verdict.ts policyJudgement), the
// same entries the programs read.
import type { Flow } from './types.js';
import { VerdictEvaluator, canonicalPacket, type Hook, type OpeningPacket } from '../model/verdict.js';
import type { DesiredState } from '../model/types.js';

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;

export interface PolicyJudgement {
  allowed: boolean;
  text: string;
}

export class PolicyNamer {
  private evaluator: { desired: DesiredState; ev: VerdictEvaluator } | undefined;

  constructor(private readonly desired: () => DesiredState | undefined) {}

  /** NetworkPolicy's say on an opening packet at one hook; undefined when no policy selects the local pod. */
  judge(hook: Hook, packet: OpeningPacket): PolicyJudgement | undefined {
    const d = this.desired();
    if (d === undefined || d.policyInfo.addresses.size === 0) return undefined;
    if (this.evaluator?.desired !== d) this.evaluator = { desired: d, ev: new VerdictEvaluator(d) };
    let p: OpeningPacket;
    try {
      p = canonicalPacket(packet);
    } catch {
      return undefined;
    }
    return this.evaluator.ev.policyJudgement(hook, p);
  }

  /** The text for a flow ('' when no policy selects its local pod, or segmentation dropped it). */
  forFlow(f: Flow): string {
    if (f.ethertype !== ETH_P_IP && f.ethertype !== ETH_P_IPV6) return '';
    if (f.verdict === 'DROPPED' && !f.dropReason.startsWith('POLICY_')) return '';
    const hook: Hook = f.direction === 'EGRESS' ? 'from_pod' : 'to_pod';
    const j = this.judge(hook, { src: f.source.ip, dst: f.destination.ip, protocol: f.protocol, sport: f.source.port, dport: f.destination.port });
    return j?.text ?? '';
  }
}
