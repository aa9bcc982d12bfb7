// Part 4: the flow API (issue 5). Until the flow statistics and the gRPC API
// exist this part only detects them and says so; it never invents numbers.
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from './lib/env.js';
import type { PartResult, Target } from './lib/report.js';

/** What of issue 5 is in the tree: the proto file and a flow map in the datapath. */
export function flowApiPresence(): { proto: string[]; flowMapInHeader: boolean } {
  const protoDir = path.join(REPO, 'proto');
  const proto = fs.existsSync(protoDir) ? fs.readdirSync(protoDir).filter((f) => f.endsWith('.proto')) : [];
  const header = fs.readFileSync(path.join(REPO, 'bpf/maps.h'), 'utf8');
  return { proto, flowMapInHeader: /\bflow\w*\s+SEC\("\.maps"\)/.test(header) };
}

export async function runFlowApi(_signal: AbortSignal): Promise<PartResult> {
  const t0 = Date.now();
  const have = flowApiPresence();
  const why =
    have.proto.length === 0 && !have.flowMapInHeader
      ? 'not available yet: no proto/ and no flow map in bpf/maps.h (issue 5)'
      : `issue 5 is partly in the tree (proto: ${have.proto.join(', ') || 'none'}, flow map: ${have.flowMapInHeader}); ` +
        'bench/flowapi.ts does not drive it yet';
  const targets: Target[] = [
    { id: '4a', description: 'GetFlows returning 100k flows', target: '<= 1 s', measured: null, unit: 's', met: null, note: why },
    { id: '4b', description: 'packet to --follow client latency, p99', target: '<= 200 ms', measured: null, unit: 'ms', met: null, note: why },
  ];
  return {
    id: 'flowapi',
    title: '4. Flow API',
    method: 'Detects the flow API of issue 5 (the `proto/` directory and a flow map in `bpf/maps.h`).',
    tables: [],
    targets,
    notes: [why],
    data: have,
    seconds: (Date.now() - t0) / 1000,
  };
}
