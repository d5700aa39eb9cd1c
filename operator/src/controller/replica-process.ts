// An operator replica in its own process, for the tests that must kill one (SIGKILL: no Lease
// release, no goodbye). Configured by environment; prints {"port": N} once /metrics listens.
import { pino } from "pino";
import { loadKubeConfig } from "./kube/kubeconfig.js";
import { Operator } from "./operator.js";

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`replica-process: ${name} is not set`);
  return v;
};

const operator = new Operator({
  kubeConfig: loadKubeConfig(env("KUBECONFIG")),
  logger: pino({ level: "info", base: { replica: env("REPLICA") } }, pino.destination(2)),
  namespaces: env("NAMESPACES").split(","),
  metricsAddress: "127.0.0.1:0",
  identity: env("REPLICA"),
  backoff: { baseMs: 100, maxMs: 2000 },
  leaderElection: {
    namespace: env("LEASE_NAMESPACE"),
    name: env("LEASE_NAME"),
    leaseDurationMs: Number(env("LEASE_DURATION_MS")),
    renewDeadlineMs: Number(env("RENEW_DEADLINE_MS")),
    retryPeriodMs: Number(env("RETRY_PERIOD_MS")),
  },
});
await operator.start();
process.stdout.write(`${JSON.stringify({ port: operator.httpPort })}\n`);
const stop = async () => {
  await operator.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
