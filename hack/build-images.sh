#!/usr/bin/env bash
# Builds the Flowlens images with Docker from images/Dockerfile (`make images`):
#   $IMAGE_REPO/flowlens:$IMAGE_TAG           agent and aggregator (capture addon, libpcap, libndpi)
#   $IMAGE_REPO/flowlens-operator:$IMAGE_TAG  the operator
# Prints the two references.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE_REPO=${IMAGE_REPO:-ghcr.io/flowlens}
IMAGE_TAG=${IMAGE_TAG:-dev}
command -v docker >/dev/null || { echo "build-images: docker is required" >&2; exit 1; }

for target in flowlens operator; do
  name=flowlens
  [ "$target" = operator ] && name=flowlens-operator
  echo "build-images: building $IMAGE_REPO/$name:$IMAGE_TAG (target $target)" >&2
  docker build --file images/Dockerfile --target "$target" --tag "$IMAGE_REPO/$name:$IMAGE_TAG" . >&2
done
echo "$IMAGE_REPO/flowlens:$IMAGE_TAG"
echo "$IMAGE_REPO/flowlens-operator:$IMAGE_TAG"
