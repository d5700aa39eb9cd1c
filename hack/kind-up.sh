#!/usr/bin/env bash
# Flowlens on a local kind cluster, for users with Docker (`make kind-up`): builds the images,
# creates the cluster (or reuses it), loads the images, installs the chart, applies the samples
# that need nothing outside the cluster, and waits until the operator, the aggregator and the
# agents are ready. Needs docker, kind and kubectl; helm comes from PATH or hack/build-tools.sh.
# Settings (environment): CLUSTER (flowlens), NAMESPACE (flowlens-system), IMAGE_REPO
# (ghcr.io/flowlens), IMAGE_TAG (dev), SKIP_BUILD=1 to use images already built, TIMEOUT (300s).
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${CLUSTER:-flowlens}
NAMESPACE=${NAMESPACE:-flowlens-system}
export IMAGE_REPO=${IMAGE_REPO:-ghcr.io/flowlens}
export IMAGE_TAG=${IMAGE_TAG:-dev}
TIMEOUT=${TIMEOUT:-300s}

log() { printf '[kind-up] %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null || { log "$1 is required: $2"; exit 1; }; }
need docker "https://docs.docker.com/engine/install/"
need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
need kubectl "https://kubernetes.io/docs/tasks/tools/"
HELM=$(command -v helm || true)
if [ -z "$HELM" ]; then HELM="$(hack/build-tools.sh helm)/helm"; fi

if [ "${SKIP_BUILD:-}" != 1 ]; then hack/build-images.sh >/dev/null; fi
IMAGES=("$IMAGE_REPO/flowlens:$IMAGE_TAG" "$IMAGE_REPO/flowlens-operator:$IMAGE_TAG")

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  log "reusing kind cluster $CLUSTER"
else
  log "creating kind cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --config hack/kind-config.yaml --wait 120s
fi
CONTEXT="kind-$CLUSTER"
kubectl config use-context "$CONTEXT" >/dev/null

log "loading ${IMAGES[*]}"
kind load docker-image --name "$CLUSTER" "${IMAGES[@]}"

log "installing the chart into $NAMESPACE"
"$HELM" upgrade --install flowlens charts/flowlens --kube-context "$CONTEXT" \
  --namespace "$NAMESPACE" --create-namespace \
  --set image.repository="$IMAGE_REPO/flowlens" --set image.tag="$IMAGE_TAG" \
  --set operator.image.repository="$IMAGE_REPO/flowlens-operator" --set operator.image.tag="$IMAGE_TAG" \
  --wait --timeout "$TIMEOUT"

# The collector and probe that need nothing outside the cluster (the -nats ones need a NATS
# server), and the alert rules that name that collector.
log "applying the samples"
for s in flowcollector flowprobe alertrule-threshold alertrule-check; do
  kubectl --namespace "$NAMESPACE" apply --server-side -f "crds/samples/$s.yaml"
done

log "waiting for the operator, the aggregator and the agents"
kubectl --namespace "$NAMESPACE" rollout status deployment/flowlens-operator --timeout "$TIMEOUT"
wait_for_object() {
  local what=$1 deadline=$((SECONDS + 120))
  until kubectl --namespace "$NAMESPACE" get "$what" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { log "$what was not created"; kubectl --namespace "$NAMESPACE" get flowlens -o yaml >&2; exit 1; }
    sleep 2
  done
}
wait_for_object deployment/flowlens-aggregator
wait_for_object daemonset/nodes-agent
kubectl --namespace "$NAMESPACE" rollout status deployment/flowlens-aggregator --timeout "$TIMEOUT"
kubectl --namespace "$NAMESPACE" rollout status daemonset/nodes-agent --timeout "$TIMEOUT"
kubectl --namespace "$NAMESPACE" wait --for=condition=Ready flowcollector/flowlens flowprobe/nodes --timeout "$TIMEOUT"
kubectl --namespace "$NAMESPACE" get flowlens

log "ready. The API and metrics:"
log "  kubectl --namespace $NAMESPACE port-forward service/flowlens-aggregator 3000"
log "  curl http://127.0.0.1:3000/api/v1/top/talkers"
log "A smoke check: hack/kind-smoke.sh; remove everything: kind delete cluster --name $CLUSTER"
