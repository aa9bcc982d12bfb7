// An agent speaks for its own node only: whatever node name it writes into an
// answer, the relay names that answer by the node it asked (discovery's
// spec.nodeName, or --agents). An agent that writes another name is a broken
// or hostile agent: said once per (node, written name), its data still shown
// under its own node, so nothing is lost and nothing is misattributed.

/** A node name an agent wrote that is not its own. */
export interface ForgedName {
  /** the node the relay asked */
  node: string;
  /** the name that agent wrote */
  wrote: string;
  /** where: "flow", "ServerStatus", "Explain", "ListEndpoints (local endpoint)" */
  where: string;
}

export class NodeNames {
  private readonly told = new Set<string>();

  constructor(
    private readonly onForged: (f: ForgedName) => void,
    /** bound on remembered pairs (an agent could write a new name in every flow) */
    private readonly max = 1000,
  ) {}

  /** The name to show for what `node`'s agent wrote as `wrote`: always `node`. An empty name is filled in silently. */
  name(node: string, wrote: string, where: string): string {
    if (wrote !== '' && wrote !== node) {
      const key = `${node}\0${wrote}`;
      if (!this.told.has(key)) {
        if (this.told.size >= this.max) this.told.clear();
        this.told.add(key);
        this.onForged({ node, wrote, where });
      }
    }
    return node;
  }
}
