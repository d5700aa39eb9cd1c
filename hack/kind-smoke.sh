#!/usr/bin/env bash
# After hack/kind-up.sh: the aggregator answers, every node's agent reports flows, and the
# Prometheus metrics the chart's dashboard reads are there. Exits non-zero with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."

NAMESPACE=${NAMESPACE:-flowlens-system}
CLUSTER=${CLUSTER:-flowlens}
PORT=${PORT:-13000}
log() { printf '[kind-smoke] %s\n' "$*" >&2; }

kubectl --namespace "$NAMESPACE" port-forward service/flowlens-aggregator "$PORT:3000" >/dev/null 2>&1 &
pf=$!
trap 'kill "$pf" 2>/dev/null || true' EXIT
api="http://127.0.0.1:$PORT"
for _ in $(seq 1 30); do curl -fsS "$api/readyz" >/dev/null 2>&1 && break; sleep 1; done
curl -fsS "$api/readyz" >/dev/null || { log "the aggregator is not ready at $api/readyz"; exit 1; }

nodes=$(kubectl get nodes --no-headers | wc -l)
log "waiting for flows from the agents of all $nodes nodes"
for _ in $(seq 1 60); do
  reporting=$(curl -fsS "$api/api/v1/nodes" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).items.filter(n=>n.records>0).length))')
  [ "$reporting" -ge "$nodes" ] && break
  sleep 5
done
[ "$reporting" -ge "$nodes" ] || { log "only $reporting of $nodes nodes reported flows"; exit 1; }

metrics=$(curl -fsS "$api/metrics")
for m in flowlens_flows_total flowlens_node_flows_total flowlens_aggregator_ingested_flows_total; do
  grep -q "^$m" <<<"$metrics" || { log "/metrics has no $m"; exit 1; }
done
kubectl --namespace "$NAMESPACE" get flowcollector flowlens -o jsonpath='{.status.conditions}' >&2; echo >&2
log "ok: $reporting nodes report flows, /metrics serves the dashboard's metrics"
