// flowlens operator: reconciles FlowProbe, FlowCollector and AlertRule resources.
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { loadKubeConfig, Operator } from "@flowlens/operator";
import { type Command, UsageError } from "../command.js";
import { createLogger, waitForSignal } from "../daemon.js";
import { intOption, listOption, secondsOption, stringOption } from "./parse.js";
import { operatorSpec } from "./specs.js";

type Values = Record<string, string | boolean | string[] | undefined>;

const IN_CLUSTER_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

function leaseNamespace(values: Values): string {
  const given = stringOption(values, "lease-namespace") ?? process.env.POD_NAMESPACE;
  if (given) return given;
  try {
    if (existsSync(IN_CLUSTER_NAMESPACE)) return readFileSync(IN_CLUSTER_NAMESPACE, "utf8").trim();
  } catch {
    // not in a Pod
  }
  return "default";
}

export const operatorCommand: Command = {
  ...operatorSpec,
  async run({ values }) {
    const c = "operator";
    const file = stringOption(values, "kubeconfig");
    let kubeConfig: ReturnType<typeof loadKubeConfig>;
    try {
      kubeConfig = loadKubeConfig(file);
    } catch (err) {
      throw new UsageError(`${c}: --kubeconfig ${file ?? "(default)"}: ${(err as Error).message.split("\n")[0]}`);
    }
    const workers = intOption(c, values, "workers", 1, 64);
    const resyncMs = secondsOption(c, values, "resync") * 1000;
    const metricsAddress = (values["metrics-address"] as string | undefined) ?? "";
    if (metricsAddress && !/^(\[[^\]]+\]|[^:]*):\d{1,5}$/.test(metricsAddress)) {
      throw new UsageError(`${c}: --metrics-address must be HOST:PORT or :PORT, got '${metricsAddress}'`);
    }
    const leaseDurationMs = secondsOption(c, values, "lease-duration") * 1000;
    const renewDeadlineMs = secondsOption(c, values, "renew-deadline") * 1000;
    const retryPeriodMs = secondsOption(c, values, "retry-period") * 1000;
    if (!(retryPeriodMs < renewDeadlineMs && renewDeadlineMs < leaseDurationMs)) {
      throw new UsageError(`${c}: need --retry-period < --renew-deadline < --lease-duration`);
    }
    const logger = createLogger(values["log-level"] as string, "operator");
    const operator = new Operator({
      kubeConfig,
      logger,
      namespaces: listOption(values, "namespace"),
      image: stringOption(values, "image"),
      metricsAddress,
      workers,
      resyncMs,
      identity: `${process.env.POD_NAME ?? hostname()}_${process.pid}`,
      ...(values["leader-elect"] === true
        ? {
            leaderElection: {
              namespace: leaseNamespace(values),
              name: values["lease-name"] as string,
              leaseDurationMs,
              renewDeadlineMs,
              retryPeriodMs,
            },
          }
        : {}),
    });
    await operator.start();
    const signal = await waitForSignal();
    logger.info({ signal }, "stopping");
    await operator.stop();
    return 0;
  },
};
