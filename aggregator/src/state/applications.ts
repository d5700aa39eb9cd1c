// Traffic per application (nDPI name) and per category, each table capped: once full, new names
// are counted under "(other)" so hostile or exotic names cannot grow the state. Every application
// (and the "(other)" one) keeps its time series.
import { label, OTHER } from "./labels.js";
import { SeriesSet } from "./ring-series.js";
import type { ApplicationSummary, CategorySummary } from "./types.js";

export const UNKNOWN_APPLICATION = "Unknown";
export const UNSPECIFIED_CATEGORY = "Unspecified";

export class ApplicationEntry {
  bytes = 0;
  packets = 0;
  flows = 0;
  /** Hosts currently in the host table that list this application. */
  hosts = 0;
  /** The category name its last record gave, and the entry that name counts under. */
  lastCategoryName: string | null = null;
  lastCategory: CategoryEntry | null = null;
  readonly series: SeriesSet;
  /** What the current batch counted, added to the series once at its end (flushSeries). */
  batchBytes = 0;
  batchPackets = 0;
  batchFlows = 0;
  inBatch = false;
  constructor(
    /** Its index in the table, the key hosts count it under. */
    readonly id: number,
    readonly name: string,
    public category: string,
    now: number,
  ) {
    this.series = new SeriesSet(now);
  }
}

export class CategoryEntry {
  bytes = 0;
  packets = 0;
  flows = 0;
  constructor(readonly name: string) {}
}

export class ApplicationTable {
  private readonly apps = new Map<string, ApplicationEntry>();
  private readonly byId: ApplicationEntry[] = [];
  private readonly cats = new Map<string, CategoryEntry>();
  /** Records counted under "(other)" because the table was full. */
  overflow = 0;
  /**
   * The last application looked up by its name: records come in runs of one application (a
   * collector's are nearly all "Unknown"), which then cost no Map lookup.
   */
  private lastName: string | null = null;
  private lastEntry: ApplicationEntry | null = null;
  /** Entries the current batch counted, for flushSeries(). */
  private readonly batchEntries: ApplicationEntry[] = [];

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.apps.size;
  }

  get categoryCount(): number {
    return this.cats.size;
  }

  get(name: string): ApplicationEntry | undefined {
    if (name === this.lastName) return this.lastEntry as ApplicationEntry;
    return this.apps.get(name);
  }

  byIndex(id: number): ApplicationEntry | undefined {
    return this.byId[id];
  }

  /**
   * Counts a record and returns the entry that took it. `found` is get(l7) if the caller has
   * it already (undefined otherwise). The series take the batch's sums at flushSeries(): a
   * batch's records share one `now`, so the buckets get the same sums, for one add per
   * application instead of one per record.
   */
  account(
    l7: string,
    l7Category: string,
    bytes: number,
    packets: number,
    flows: number,
    now: number,
    found?: ApplicationEntry,
  ): ApplicationEntry {
    let a: ApplicationEntry | undefined = found;
    if (a !== undefined) {
      // As below: found has l7 as its own name (get() only returns those).
    } else if (l7 === this.lastName) a = this.lastEntry as ApplicationEntry;
    else {
      a = this.apps.get(l7);
      if (a === undefined) a = this.create(l7, l7Category, now);
      // Only a name the table has under its own key: a raw name that maps to another entry
      // ("" to "Unknown", a cut one) would hide it from get().
      if (a.name === l7) {
        this.lastName = l7;
        this.lastEntry = a;
      }
    }
    a.bytes += bytes;
    a.packets += packets;
    a.flows += flows;
    if (!a.inBatch) {
      a.inBatch = true;
      this.batchEntries.push(a);
    }
    a.batchBytes += bytes;
    a.batchPackets += packets;
    a.batchFlows += flows;

    let c: CategoryEntry | undefined;
    if (l7Category === a.lastCategoryName) c = a.lastCategory as CategoryEntry;
    else {
      c = this.cats.get(l7Category);
      if (c === undefined) c = this.createCategory(l7Category);
      a.lastCategoryName = l7Category;
      a.lastCategory = c;
    }
    c.bytes += bytes;
    c.packets += packets;
    c.flows += flows;
    return a;
  }

  /** Adds what the batch counted (at `now`, the `now` of its records) to the series. */
  flushSeries(now: number): void {
    const list = this.batchEntries;
    for (let i = 0; i < list.length; i++) {
      const a = list[i] as ApplicationEntry;
      a.series.add(now, a.batchBytes, a.batchPackets, a.batchFlows);
      a.batchBytes = 0;
      a.batchPackets = 0;
      a.batchFlows = 0;
      a.inBatch = false;
    }
    list.length = 0;
  }

  private create(l7: string, l7Category: string, now: number): ApplicationEntry {
    const name = label(l7, UNKNOWN_APPLICATION);
    const category = label(l7Category, UNSPECIFIED_CATEGORY);
    // The raw name may differ from the stored one (empty, cut): look the stored one up too.
    let a = this.apps.get(name);
    if (a !== undefined) return a;
    if (this.apps.size >= this.capacity) {
      this.overflow++;
      a = this.apps.get(OTHER);
      if (a !== undefined) return a;
      a = new ApplicationEntry(this.byId.length, OTHER, "", now);
    } else {
      a = new ApplicationEntry(this.byId.length, name, category, now);
    }
    this.byId.push(a);
    // "(other)" may take the table one past capacity: it is the bound, not a leak.
    this.apps.set(a.name, a);
    return a;
  }

  private createCategory(l7Category: string): CategoryEntry {
    const name = label(l7Category, UNSPECIFIED_CATEGORY);
    let c = this.cats.get(name);
    if (c !== undefined) return c;
    c = new CategoryEntry(this.cats.size >= this.capacity ? OTHER : name);
    const existing = this.cats.get(c.name);
    if (existing !== undefined) return existing;
    this.cats.set(c.name, c);
    return c;
  }

  applications(): ApplicationSummary[] {
    return [...this.apps.values()]
      .map((a) => ({
        name: a.name,
        category: a.category,
        bytes: a.bytes,
        packets: a.packets,
        flows: a.flows,
        hosts: a.hosts,
      }))
      .sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : 1));
  }

  categories(): CategorySummary[] {
    return [...this.cats.values()]
      .map((c) => ({ name: c.name, bytes: c.bytes, packets: c.packets, flows: c.flows }))
      .sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : 1));
  }
}
