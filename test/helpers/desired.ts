// A DesiredState for tests of the map writer and its images: every map empty
// unless given (what the compile step would hand over for such a cluster).
import type { DesiredState } from '../../src/model/types.js';
import { emptyPolicyInfo } from '../../src/model/policy-types.js';
import { emptyAllocation } from '../../src/model/vrf.js';

export function desiredState(parts: Partial<DesiredState>): DesiredState {
  return {
    endpoints: new Map(),
    vrfPairs: new Set(),
    networks: new Map(),
    cidrs: new Map(),
    attach: new Map(),
    ports: new Map(),
    services: new Map(),
    backends: new Map(),
    serviceAccess: new Map(),
    placements: new Map(),
    attachments: new Map(),
    allocation: emptyAllocation(),
    policy: new Map(),
    policyCidrs: new Map(),
    policyInfo: emptyPolicyInfo(),
    problems: [],
    ...parts,
  };
}
