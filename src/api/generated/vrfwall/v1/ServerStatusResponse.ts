// Original file: proto/vrfwall/v1/state.proto

import type { MapFill as _vrfwall_v1_MapFill, MapFill__Output as _vrfwall_v1_MapFill__Output } from '../../vrfwall/v1/MapFill.js';
import type { ServerStatusResponse as _vrfwall_v1_ServerStatusResponse, ServerStatusResponse__Output as _vrfwall_v1_ServerStatusResponse__Output } from '../../vrfwall/v1/ServerStatusResponse.js';
import type { NodeReport as _vrfwall_v1_NodeReport, NodeReport__Output as _vrfwall_v1_NodeReport__Output } from '../../vrfwall/v1/NodeReport.js';
import type { FlowExportStatus as _vrfwall_v1_FlowExportStatus, FlowExportStatus__Output as _vrfwall_v1_FlowExportStatus__Output } from '../../vrfwall/v1/FlowExportStatus.js';
import type { Long } from '@grpc/proto-loader';

export interface ServerStatusResponse {
  'version'?: (string);
  'node'?: (string);
  'uptimeSeconds'?: (number | string);
  'flowsHeld'?: (number | string | Long);
  'flowsMax'?: (number | string | Long);
  'flowsSeen'?: (number | string | Long);
  /**
   * pushed out of the full store
   */
  'flowsEvicted'?: (number | string | Long);
  'eventsReceived'?: (number | string | Long);
  /**
   * ring buffer full in the kernel
   */
  'eventsLost'?: (number | string | Long);
  /**
   * dropped from slow clients' queues
   */
  'streamFlowsLost'?: (number | string | Long);
  /**
   * tcx or tc
   */
  'attachMode'?: (string);
  'maps'?: (_vrfwall_v1_MapFill)[];
  'lastSyncMs'?: (number | string | Long);
  'generation'?: (number | string | Long);
  'synced'?: (boolean);
  'kernelFlowsCreated'?: (number | string | Long);
  /**
   * open GetFlows streams
   */
  'streams'?: (number);
  /**
   * relay only: the status of each agent that answered, and who did not
   */
  'nodeStatus'?: (_vrfwall_v1_ServerStatusResponse)[];
  'nodes'?: (_vrfwall_v1_NodeReport | null);
  /**
   * unset: no export
   */
  'flowExport'?: (_vrfwall_v1_FlowExportStatus | null);
  /**
   * the node-wide setting (agent --enforcement): "audit" or "enforce"
   */
  'enforcement'?: (string);
}

export interface ServerStatusResponse__Output {
  'version': (string);
  'node': (string);
  'uptimeSeconds': (number);
  'flowsHeld': (number);
  'flowsMax': (number);
  'flowsSeen': (number);
  /**
   * pushed out of the full store
   */
  'flowsEvicted': (number);
  'eventsReceived': (number);
  /**
   * ring buffer full in the kernel
   */
  'eventsLost': (number);
  /**
   * dropped from slow clients' queues
   */
  'streamFlowsLost': (number);
  /**
   * tcx or tc
   */
  'attachMode': (string);
  'maps': (_vrfwall_v1_MapFill__Output)[];
  'lastSyncMs': (number);
  'generation': (number);
  'synced': (boolean);
  'kernelFlowsCreated': (number);
  /**
   * open GetFlows streams
   */
  'streams': (number);
  /**
   * relay only: the status of each agent that answered, and who did not
   */
  'nodeStatus': (_vrfwall_v1_ServerStatusResponse__Output)[];
  'nodes': (_vrfwall_v1_NodeReport__Output | null);
  /**
   * unset: no export
   */
  'flowExport': (_vrfwall_v1_FlowExportStatus__Output | null);
  /**
   * the node-wide setting (agent --enforcement): "audit" or "enforce"
   */
  'enforcement': (string);
}
