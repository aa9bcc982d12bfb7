// vrfwall.v1.StateService: ServerStatus, ListNetworks, ListEndpoints, Explain, WhatIf.
import * as grpc from '@grpc/grpc-js';
import type { NativeAddon } from '../kernel/native.js';
import type { Directory } from '../flows/directory.js';
import { ApiError, toServiceError } from './flow-service.js';
import { explain, type ProbePrograms } from './explain.js';
import { whatIf, type WhatIfSources } from './whatif.js';
import type { PolicyNamer } from '../flows/policy-name.js';
import type {
  ExplainRequest,
  ExplainResponse,
  ListEndpointsRequest,
  ListEndpointsResponse,
  ListNetworksResponse,
  ServerStatusResponse,
  WhatIfRequest,
  WhatIfResponse,
} from './messages.js';
import { compareText } from '../util/order.js';

export interface StateProvider {
  node: string;
  directory(): Directory;
  status(): ServerStatusResponse;
  programs(): ProbePrograms | undefined;
  /** what WhatIf reads; absent: the call is not served here */
  whatIf?: WhatIfSources;
  /** names NetworkPolicy in Explain's steps; absent: none named */
  policy?: PolicyNamer;
}

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => void;

function unary<Req, Res>(fn: (req: Req) => Res): Unary<Req, Res> {
  return (call, cb) => {
    try {
      cb(null, fn(call.request));
    } catch (e) {
      cb(toServiceError(e));
    }
  };
}

export function stateHandlers(p: StateProvider, bpf: NativeAddon): grpc.UntypedServiceImplementation {
  return {
    ServerStatus: unary(() => p.status()),
    ListNetworks: unary((): ListNetworksResponse => ({
      networks: [...p.directory().networks.values()].sort((a, b) => compareText(a.name, b.name)),
      node: p.node,
    })),
    ListEndpoints: unary((req: ListEndpointsRequest): ListEndpointsResponse => {
      const endpoints = [...p.directory().byIp.values()]
        .filter((e) => (!req.namespace || e.namespace === req.namespace) && (!req.network || e.network === req.network))
        .filter((e) => !req.localOnly || e.local)
        .sort((a, b) => compareText(`${a.namespace}/${a.pod}/${a.ip}`, `${b.namespace}/${b.pod}/${b.ip}`))
        .map((e) => ({
          ip: e.ip,
          kind: e.kind,
          namespace: e.namespace,
          pod: e.pod,
          network: e.network,
          node: e.node,
          local: e.local,
          ifindex: e.ifindex,
          quarantined: e.quarantined,
          reason: e.reason,
          service: e.service,
          interface: e.interface,
        }));
      return { endpoints, node: p.node };
    }),
    Explain: unary((req: ExplainRequest): ExplainResponse => {
      const programs = p.programs();
      if (!programs) throw Object.assign(new Error('datapath not loaded'), {});
      const namer = p.policy;
      return explain(bpf, programs, p.directory(), p.node, req, namer ? (hook, packet) => namer.judge(hook, packet) : undefined);
    }),
    WhatIf: unary((req: WhatIfRequest): WhatIfResponse => {
      if (!p.whatIf) throw new ApiError(grpc.status.UNIMPLEMENTED, 'what-if is not served by this agent (no cluster state)');
      return whatIf(p.whatIf, req);
    }),
  };
}
