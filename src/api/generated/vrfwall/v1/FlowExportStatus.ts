// Original file: proto/vrfwall/v1/state.proto

import type { Long } from '@grpc/proto-loader';

/**
 * The flow export (--flow-export-file): docs/flows.md "Flow export".
 */
export interface FlowExportStatus {
  /**
   * the file being written
   */
  'file'?: (string);
  /**
   * records written
   */
  'written'?: (number | string | Long);
  /**
   * records lost: queue full (disk slower than the flows) or a failed write
   */
  'dropped'?: (number | string | Long);
  'rotations'?: (number | string | Long);
  /**
   * records waiting for the disk
   */
  'queued'?: (number | string | Long);
  /**
   * age of the oldest queued record (0: none queued)
   */
  'lagSeconds'?: (number | string);
  /**
   * the last failed write ('' none)
   */
  'lastError'?: (string);
  'lastErrorMs'?: (number | string | Long);
  'bytesWritten'?: (number | string | Long);
  /**
   * records left out by the export's filter
   */
  'filtered'?: (number | string | Long);
}

/**
 * The flow export (--flow-export-file): docs/flows.md "Flow export".
 */
export interface FlowExportStatus__Output {
  /**
   * the file being written
   */
  'file': (string);
  /**
   * records written
   */
  'written': (number);
  /**
   * records lost: queue full (disk slower than the flows) or a failed write
   */
  'dropped': (number);
  'rotations': (number);
  /**
   * records waiting for the disk
   */
  'queued': (number);
  /**
   * age of the oldest queued record (0: none queued)
   */
  'lagSeconds': (number);
  /**
   * the last failed write ('' none)
   */
  'lastError': (string);
  'lastErrorMs': (number);
  'bytesWritten': (number);
  /**
   * records left out by the export's filter
   */
  'filtered': (number);
}
