// What completes the objects of a manifest directory the way an API server
// would: the nodes, where each pod runs and its addresses, the ClusterIPs and
// node ports it allocated. Manifests alone have none of these. The manifest
// source reads and watches the overlay's file and asks it to complete each
// object; the overlay owns the file's format. The lab provides one
// (src/lab/cluster-file.ts); the agent itself knows no format.
import type { NodeInfo, PodObject, SourceProblem } from '../model/types.js';
import type { ManifestObject } from './documents.js';

export interface ManifestOverlay {
  /** The file it reads: watched, and read again whenever it changes. */
  readonly file: string;
  /** The kinds it completes: every object of these is resolved again when the content changes. */
  readonly kinds: readonly ManifestObject['kind'][];
  /**
   * Takes the file's new text (undefined: the file is gone, so there is no
   * content). Returns the problems to report. A text that cannot be used as
   * a whole leaves the last good content in effect, and its problems say so:
   * forgetting addresses would remove endpoints the datapath knows.
   */
  load(text: string | undefined): SourceProblem[];
  /** The object completed with the current content. `prevPod`: the pod in
   *  the last snapshot, to return again when nothing of it changed. */
  complete(o: ManifestObject, prevPod: (key: string) => PodObject | undefined): ManifestObject;
  /** The nodes of the current content (undefined: none). */
  nodes(): Map<string, NodeInfo> | undefined;
}
