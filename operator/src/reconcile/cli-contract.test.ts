// The containers' command lines and config files, run through the real `flowlens agent` and
// `flowlens aggregator` option parsing and validation, as the container would: so a renamed
// flag, a value the daemon refuses, or a container port the daemon does not listen on fails
// here rather than in a cluster. The CLI depends on the operator, not the other way round, so
// the built CLI modules are loaded at run time (`tsc -b` builds everything before tests run).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FlowCollector, FlowProbe } from "@flowlens/contracts";
import type { V1Container } from "@kubernetes/client-node";
import { loadSample, stored } from "../testing.js";
import { desiredCollectorObjects } from "./collector.js";
import type { DesiredObject } from "./objects.js";
import { desiredProbeObjects } from "./probe.js";
import { containerOf, find, podSpecOf } from "./test-helpers.js";

type Values = Record<string, string | boolean | string[] | undefined>;
interface CommandLike {
  name: string;
  options: Record<string, unknown>;
}
interface CliCommandModule {
  parseCommandArgs(
    cmd: CommandLike,
    argv: string[],
    env: NodeJS.ProcessEnv,
  ): { help: boolean; ctx: { values: Values } };
}
interface AgentConfigLike {
  node: string;
  capture: {
    interfaces: string[];
    excludeInterfaces: string[];
    bpf?: string;
    sampling: number;
    idleTimeoutS: number;
    activeTimeoutS: number;
    maxFlows: number;
    dpi: boolean;
  };
  grpc?: { target: string; tls?: { caFile?: string; serverName?: string } };
  nats?: { servers: string[]; credsFile?: string };
  metricsAddress: string;
}
interface AgentCliModule {
  agentCommand: CommandLike;
  agentConfigFromOptions(values: Values): AgentConfigLike;
}
interface AggregatorCliModule {
  aggregatorCommand: CommandLike;
  aggregatorBaseOptions(
    cmd: string,
    values: Values,
    httpAddress: string,
  ): { httpPort: number; localNetworks: string[]; topHosts: number };
}
interface AgentModule {
  parseListenAddress(addr: string): { host?: string; port: number };
  IpfixExporter: new (o: { target: string; version: 9 | 10; biflow: boolean }) => unknown;
}
interface AggregatorModule {
  LocalNetworks: new (cidrs: string[]) => unknown;
}

// Variables, not literals: the operator's build must not need the CLI's types.
const cliDist = new URL("../../../cli/dist/", import.meta.url);
const load = <T>(specifier: string | URL): Promise<T> => import(String(specifier)) as Promise<T>;

let dir: string;
let cli: CliCommandModule;
let agentCli: AgentCliModule;
let aggregatorCli: AggregatorCliModule;
let agent: AgentModule;
let aggregator: AggregatorModule;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "flowlens-operator-cli-"));
  cli = await load(new URL("command.js", cliDist));
  agentCli = await load(new URL("commands/agent.js", cliDist));
  aggregatorCli = await load(new URL("commands/aggregator.js", cliDist));
  const agentPkg = "@flowlens/agent";
  const aggregatorPkg = "@flowlens/aggregator";
  agent = await load(agentPkg);
  aggregator = await load(aggregatorPkg);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * What the container runs: its command after `flowlens`, with the config file of the
 * ConfigMap written where the mount would put it (here: a temp dir), and its environment with
 * the downward API resolved for a node called node-a.
 */
function invocation(objects: DesiredObject[]): { subcommand: string; argv: string[]; env: NodeJS.ProcessEnv } {
  const c: V1Container = containerOf(objects);
  const [bin, subcommand, ...args] = c.command ?? [];
  assert.equal(bin, "flowlens");
  const cm = find(objects, "ConfigMap");
  const volume = podSpecOf(objects).volumes?.find((v) => v.configMap?.name === cm.metadata.name);
  const mount = c.volumeMounts?.find((m) => m.name === volume?.name);
  assert.ok(mount, "the ConfigMap is mounted");
  const argv = args.map((a) => {
    if (!a.startsWith(`${mount.mountPath}/`)) return a;
    const file = basename(a);
    const text = cm.data?.[file];
    assert.ok(text !== undefined, `the ConfigMap holds ${file}, which the command names`);
    const local = join(dir, `${cm.metadata.name}-${file}`);
    writeFileSync(local, text);
    return local;
  });
  const env: NodeJS.ProcessEnv = {};
  for (const e of c.env ?? []) {
    if (e.valueFrom?.fieldRef?.fieldPath === "spec.nodeName") env[e.name] = "node-a";
    else if (e.value !== undefined) env[e.name] = e.value;
    else assert.fail(`env ${e.name}: a source this test does not resolve`);
  }
  return { subcommand: String(subcommand), argv, env };
}

function containerPort(objects: DesiredObject[], name: string): number | undefined {
  return containerOf(objects).ports?.find((p) => p.name === name)?.containerPort;
}

function runAgent(fp: FlowProbe, fc: FlowCollector) {
  const objects = desiredProbeObjects(fp, fc);
  const { subcommand, argv, env } = invocation(objects);
  assert.equal(subcommand, agentCli.agentCommand.name);
  const { help, ctx } = cli.parseCommandArgs(agentCli.agentCommand, argv, env);
  assert.equal(help, false);
  // agentConfigFromOptions reads NODE_NAME from the process, as the daemon does.
  const saved = process.env.NODE_NAME;
  process.env.NODE_NAME = env.NODE_NAME;
  try {
    return { objects, values: ctx.values, config: agentCli.agentConfigFromOptions(ctx.values) };
  } finally {
    if (saved === undefined) delete process.env.NODE_NAME;
    else process.env.NODE_NAME = saved;
  }
}

describe("the agent DaemonSet, as `flowlens agent` reads it", () => {
  it("takes every capture setting of the sample FlowProbe, the node name and the gRPC target", () => {
    const fp = stored(loadSample<FlowProbe>("flowprobe.yaml"));
    const fc = stored(loadSample<FlowCollector>("flowcollector.yaml"));
    const { objects, values, config } = runAgent(fp, fc);
    assert.equal(config.node, "node-a");
    assert.deepEqual(config.capture.excludeInterfaces, fp.spec.excludeInterfaces);
    assert.deepEqual(config.capture.interfaces, []);
    assert.equal(config.capture.sampling, 1);
    assert.equal(config.capture.idleTimeoutS, fp.spec.timeouts?.idleSeconds);
    assert.equal(config.capture.activeTimeoutS, fp.spec.timeouts?.activeSeconds);
    assert.equal(config.capture.maxFlows, 1_000_000);
    assert.equal(config.capture.dpi, true);
    assert.equal(config.grpc?.target, `flowlens-aggregator.flowlens.svc:${fc.spec.listeners?.grpcPort ?? 9090}`);
    assert.equal(config.nats, undefined);
    // The IPFIX exporter, built as `flowlens agent` builds it, accepts the targets.
    assert.ok(values["ipfix-version"] === "10" || values["ipfix-version"] === "9");
    for (const target of values["ipfix-target"] as string[]) {
      assert.doesNotThrow(() => new agent.IpfixExporter({ target, version: 10, biflow: false }));
    }
    assert.equal(agent.parseListenAddress(config.metricsAddress).port, containerPort(objects, "metrics"));
  });

  it("publishes to NATS with the mounted credentials, sampled, without DPI (sample)", () => {
    const fp = stored(loadSample<FlowProbe>("flowprobe-nats.yaml"));
    const fc = stored(loadSample<FlowCollector>("flowcollector-nats.yaml"));
    const { config } = runAgent(fp, fc);
    assert.deepEqual(config.nats?.servers, [fc.spec.nats?.url]);
    assert.match(config.nats?.credsFile ?? "", /nats\.creds$/);
    assert.equal(config.grpc, undefined);
    assert.equal(config.capture.sampling, fp.spec.sampling);
    assert.equal(config.capture.dpi, false);
    assert.equal(config.capture.bpf, fp.spec.bpfFilter);
    assert.deepEqual(config.capture.interfaces, fp.spec.interfaces);
    assert.equal(config.capture.maxFlows, fp.spec.maxFlows);
  });

  it("verifies a provided aggregator certificate with the CA file and Service name", () => {
    const fc = stored(loadSample<FlowCollector>("flowcollector-nats.yaml"));
    const fp = stored(loadSample<FlowProbe>("flowprobe.yaml"));
    fp.spec.collectorRef = { name: fc.metadata.name };
    const { config } = runAgent(fp, fc);
    assert.match(config.grpc?.tls?.caFile ?? "", /ca\.crt$/);
    assert.equal(config.grpc?.tls?.serverName, config.grpc?.target.replace(/:\d+$/, ""));
  });
});

describe("the aggregator Deployment, as `flowlens aggregator` reads it", () => {
  const run = (fc: FlowCollector) => {
    const objects = desiredCollectorObjects(fc);
    const { subcommand, argv, env } = invocation(objects);
    assert.equal(subcommand, aggregatorCli.aggregatorCommand.name);
    const { ctx } = cli.parseCommandArgs(aggregatorCli.aggregatorCommand, argv, env);
    const values = ctx.values;
    return {
      objects,
      values,
      base: aggregatorCli.aggregatorBaseOptions("aggregator", values, String(values["http-address"])),
    };
  };

  it("listens where the container ports and Services say, with the sample's networks and top-K", () => {
    const fc = stored(loadSample<FlowCollector>("flowcollector.yaml"));
    const { objects, values, base } = run(fc);
    assert.equal(base.httpPort, containerPort(objects, "http"));
    assert.equal(agent.parseListenAddress(String(values["grpc-address"])).port, containerPort(objects, "grpc"));
    assert.equal(Number(values["netflow-port"]), containerPort(objects, "netflow"));
    assert.equal(Number(values["sflow-port"]), containerPort(objects, "sflow"));
    assert.equal(Number(values["ipfix-port"]), 0, "off in the resource, off in the daemon");
    assert.equal(base.topHosts, fc.spec.metrics?.topHosts);
    assert.deepEqual(base.localNetworks, fc.spec.localNetworks);
    // What the CRD's isCIDR let through, the aggregator parses.
    assert.doesNotThrow(() => new aggregator.LocalNetworks(base.localNetworks));
  });

  it("consumes the sample's NATS stream with its own durable consumer and serves gRPC over TLS", () => {
    const fc = stored(loadSample<FlowCollector>("flowcollector-nats.yaml"));
    const { values } = run(fc);
    assert.deepEqual(values["nats-url"], [fc.spec.nats?.url]);
    assert.equal(values["nats-stream"], "FLOWLENS_FLOWS");
    assert.match(String(values["nats-consumer"]), /^[^.*>\s]+$/, "a valid JetStream durable name");
    assert.match(String(values["nats-creds"]), /nats\.creds$/);
    assert.match(String(values["grpc-tls-cert"]), /tls\.crt$/);
    assert.match(String(values["grpc-tls-key"]), /tls\.key$/);
  });
});
