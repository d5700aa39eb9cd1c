// Who sent flows: one entry per origin node, capped. Nodes come and go with the cluster, so when
// full the least recently seen node makes room (counted). A Map kept in last-seen order by
// re-inserting on touch is enough here: it is touched once per batch, not per flow.
import type { NodeSummary } from "./types.js";

/** Agent ids remembered per node: a restart brings a new id; a few are history enough. */
export const MAX_AGENT_IDS = 8;

/** Serials of node entries: one per entry ever made in the process, from 1. */
let nextSerial = 1;

export class NodeEntry {
  /** Tells this entry from any other, even one of the same name (the host table's fast check). */
  readonly serial = nextSerial++;
  readonly agentIds: string[] = [];
  batches = 0;
  records = 0;
  flows = 0;
  bytes = 0;
  packets = 0;
  lastSeenMs: number;
  constructor(
    readonly node: string,
    readonly firstSeenMs: number,
  ) {
    this.lastSeenMs = firstSeenMs;
  }

  summary(): NodeSummary {
    return {
      node: this.node,
      agentIds: [...this.agentIds],
      batches: this.batches,
      records: this.records,
      flows: this.flows,
      bytes: this.bytes,
      packets: this.packets,
      firstSeenMs: this.firstSeenMs,
      lastSeenMs: this.lastSeenMs,
    };
  }
}

export class NodeTable {
  private readonly byName = new Map<string, NodeEntry>();
  evictions = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.byName.size;
  }

  /** The entry for a batch's origin (names already cut to bounded labels), marked seen now. */
  touch(node: string, agentId: string, now: number): NodeEntry {
    let n = this.byName.get(node);
    if (n !== undefined) this.byName.delete(node);
    else {
      if (this.byName.size >= this.capacity) {
        const oldest = this.byName.keys().next();
        if (!oldest.done) {
          this.byName.delete(oldest.value);
          this.evictions++;
        }
      }
      n = new NodeEntry(node, now);
    }
    this.byName.set(node, n);
    n.lastSeenMs = now;
    n.batches++;
    if (agentId.length > 0 && !n.agentIds.includes(agentId)) {
      if (n.agentIds.length >= MAX_AGENT_IDS) n.agentIds.shift();
      n.agentIds.push(agentId);
    }
    return n;
  }

  summaries(): NodeSummary[] {
    return [...this.byName.values()].map((n) => n.summary()).sort((a, b) => (a.node < b.node ? -1 : 1));
  }
}
