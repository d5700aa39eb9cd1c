// Test helper process: captures live on one interface (run it inside a network namespace with
// `ip netns exec`), prints every flow as NDJSON on stdout and the final stats as JSON on stderr
// when it gets SIGTERM. Usage: capture-live.js IFACE [idleTimeoutMs]
import { startLive } from "../engine/live.js";

const [iface, idle = "60000"] = process.argv.slice(2);
if (!iface) {
  process.stderr.write("usage: capture-live.js IFACE [idleTimeoutMs]\n");
  process.exit(2);
}
const capture = startLive(
  { interfaces: [iface], idleTimeoutMs: Number(idle), activeTimeoutMs: 0, blockTimeoutMs: 5 },
  (flows) => {
    for (const f of flows) process.stdout.write(`${JSON.stringify(f)}\n`);
  },
);
process.stderr.write("capturing\n");
const stop = async () => {
  const stats = await capture.stop();
  // No process.exit(): it would cut stdout short when it is a pipe; the process ends by itself.
  process.stderr.write(`${JSON.stringify({ stats })}\n`);
};
process.on("SIGTERM", stop);
