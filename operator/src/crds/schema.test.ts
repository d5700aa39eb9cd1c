import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FlowCollectorSpec, FlowProbeSpec } from "@flowlens/contracts";
import { flowCollectorSpecSchema, resolveCollectorSpec } from "./flowcollector.js";
import { flowProbeSpecSchema, resolveProbeSpec } from "./flowprobe.js";
import { renderCrdFiles } from "./index.js";
import { type LooseSchema, members, type Schema, toOpenApi, withDefaults } from "./schema.js";

interface Thing {
  name: string;
  mode?: "a" | "b";
  size?: number;
  inner?: { depth?: number; tags?: string[] };
}

// Compile-time half of the tests: each @ts-expect-error below must stay an error, or `tsc -b`
// fails ("unused directive"). These are the drifts the schemas are protected against.
export const typeChecks = [
  // @ts-expect-error a field of the type without a schema
  { type: "object", properties: { name: { type: "string", required: true } } } as const satisfies Schema<Thing>,
  {
    type: "object",
    properties: {
      name: { type: "string", required: true },
      mode: { type: "string", enum: members({ a: true, b: true }) },
      size: { type: "integer" },
      inner: {
        type: "object",
        properties: { depth: { type: "integer" }, tags: { type: "array", items: { type: "string" } } },
      },
      // @ts-expect-error a schema property the type does not have
      extra: { type: "string" },
    },
  } as const satisfies Schema<Thing>,
  {
    type: "object",
    properties: {
      name: { type: "string", required: true },
      // @ts-expect-error an enum missing a member of the union
      mode: { type: "string", enum: members({ a: true }) },
      size: { type: "integer" },
      inner: {
        type: "object",
        properties: { depth: { type: "integer" }, tags: { type: "array", items: { type: "string" } } },
      },
    },
  } as const satisfies Schema<Thing>,
  {
    type: "object",
    properties: {
      // @ts-expect-error a required field not marked required
      name: { type: "string" },
      mode: { type: "string", enum: members({ a: true, b: true }) },
      // @ts-expect-error an optional field marked required
      size: { type: "integer", required: true },
      // @ts-expect-error a field of the wrong type
      inner: { type: "string" },
    },
  } as const satisfies Schema<Thing>,
];

describe("schema language", () => {
  it("turns required markers into the parent's list, and nothing else into output", () => {
    const out = toOpenApi({
      type: "object",
      properties: {
        a: { type: "string", required: true },
        b: { type: "integer", required: false },
        c: { type: "object", properties: { d: { type: "boolean", required: true } } },
      },
    });
    assert.deepEqual(out, {
      type: "object",
      properties: {
        a: { type: "string" },
        b: { type: "integer" },
        c: { type: "object", properties: { d: { type: "boolean" } }, required: ["d"] },
      },
      required: ["a"],
    });
  });

  it("refuses a keyword it does not know, naming where", () => {
    assert.throws(
      () => toOpenApi({ type: "object", properties: { a: { type: "string", minLenght: 1 } as LooseSchema } }),
      /schema\.a: unknown schema keyword 'minLenght'/,
    );
  });

  it("defaults like the API server: missing fields only, into defaulted parents, list items, not in place", () => {
    const schema: LooseSchema = {
      type: "object",
      properties: {
        n: { type: "integer", default: 1 },
        o: { type: "object", default: {}, properties: { x: { type: "integer", default: 2 }, y: { type: "integer" } } },
        l: { type: "array", items: { type: "object", properties: { p: { type: "string", default: "q" } } } },
        m: {
          type: "object",
          additionalProperties: { type: "object", properties: { z: { type: "integer", default: 3 } } },
        },
      },
    };
    const input = { n: 5, l: [{}, { p: "r" }], m: { k: {} } };
    const out = withDefaults(schema, input);
    assert.deepEqual(out, { n: 5, o: { x: 2 }, l: [{ p: "q" }, { p: "r" }], m: { k: { z: 3 } } });
    assert.deepEqual(input, { n: 5, l: [{}, { p: "r" }], m: { k: {} } });
  });

  it("gives every default a resolved spec relies on, in the types and at run time", () => {
    const probe = resolveProbeSpec({ collectorRef: { name: "c" } } satisfies FlowProbeSpec);
    // These assignments type-check only because the defaults made the fields required.
    const sampling: number = probe.sampling;
    const idle: number = probe.timeouts.idleSeconds;
    const transport: "grpc" | "nats" = probe.export.transport;
    assert.equal(sampling, flowProbeSpecSchema.properties.sampling.default);
    assert.equal(idle, flowProbeSpecSchema.properties.timeouts.properties.idleSeconds.default);
    assert.equal(transport, flowProbeSpecSchema.properties.export.properties.transport.default);
    const collector = resolveCollectorSpec({} satisfies FlowCollectorSpec);
    const grpcPort: number = collector.listeners.grpcPort;
    assert.equal(grpcPort, flowCollectorSpecSchema.properties.listeners.properties.grpcPort.default);
    assert.equal(collector.listeners.netflowPort, undefined);
  });

  it("renders one CRD file per resource, with no YAML anchors", () => {
    const files = renderCrdFiles();
    assert.deepEqual([...files.keys()].sort(), [
      "flowlens.dev_alertrules.yaml",
      "flowlens.dev_flowcollectors.yaml",
      "flowlens.dev_flowprobes.yaml",
    ]);
    for (const [f, text] of files) {
      assert.doesNotMatch(text, /[&*][a-z]+\d*\s*$/m, `${f} has an anchor or alias`);
      assert.match(text, /^# Generated by hack\/gen-crds\.mjs/);
    }
  });
});
