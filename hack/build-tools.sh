#!/usr/bin/env bash
# Builds the Go tools the test harness needs (etcd, kube-apiserver, helm, kubeconform) from
# the Go module proxy and caches them by version outside the repository, so a second run is
# a no-op. Usage: hack/build-tools.sh [tool...]   (default: all). Prints the bin directory.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.5}
HELM_VERSION=${HELM_VERSION:-v3.19.0}
KUBECONFORM_VERSION=${KUBECONFORM_VERSION:-v0.7.0}
TOOLS_DIR=${FLOWLENS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flowlens-tools}
BIN="$TOOLS_DIR/bin"
WORK="$TOOLS_DIR/work"
mkdir -p "$BIN" "$WORK"
export GOFLAGS="${GOFLAGS:--buildvcs=false} -trimpath"
export CGO_ENABLED=0

log() { printf '[build-tools] %s\n' "$*" >&2; }

# Each binary is stored as NAME-VERSION with a NAME symlink, so bumping a version rebuilds it.
have() { [ -x "$BIN/$1-$2" ]; }
link() { ln -sfn "$1-$2" "$BIN/$1"; }

# A throwaway module that requires $2 at $3 and builds package $4 into $BIN/$1-$KEY, where KEY
# is $3 plus the optional suffix $7 (a new suffix when the build flags change forces a rebuild).
# $5: shell run in the module before `go mod tidy`; $6: go build -ldflags.
build_wrapper() {
  local name=$1 module=$2 version=$3 pkg=$4 extra=${5:-} ldflags=${6:-} key=$3${7:-}
  have "$name" "$key" && { link "$name" "$key"; return; }
  local dir="$WORK/$name-$key"
  rm -rf "$dir" && mkdir -p "$dir"
  local start=$SECONDS
  log "building $name $key ($pkg)"
  (
    cd "$dir"
    go mod init "flowlens.dev/tools/$name" >/dev/null 2>&1
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" > tools.go
    go mod edit -require="$module@$version"
    if [ -n "$extra" ]; then eval "$extra"; fi
    go mod tidy >/dev/null
    # Into a temporary name first: a half-written binary must never look cached.
    go build -ldflags="$ldflags" -o "$BIN/.$name-$key.tmp" "$pkg"
    mv -f "$BIN/.$name-$key.tmp" "$BIN/$name-$key"
  )
  link "$name" "$key"
  log "built $name $key in $((SECONDS - start))s"
}

# k8s.io/kubernetes points its staging modules at ./staging with replace lines; outside its own
# tree those must be pinned to the published v0.X.Y tags, and `go install` refuses replaces.
kube_replaces() {
  local gomod staging
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  staging="v0.${K8S_VERSION#v1.}"
  grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' | sort -u |
    while read -r m; do printf 'go mod edit -replace=%s=%s@%s\n' "$m" "$m" "$staging"; done
}

# The version fields Kubernetes' hack/lib/version.sh stamps, so /version reports $K8S_VERSION
# (unstamped it says v0.0.0-master and charts cannot declare kubeVersion). The module proxy has
# no commit hash, so gitCommit is a fixed placeholder; buildDate is the tag's time, reproducible.
kube_ldflags() {
  local minor date
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
    sed -n 's/.*"Info": "\(.*\)",/\1/p')")
  local pkg kv out=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    for kv in "gitVersion=$K8S_VERSION" gitMajor=1 "gitMinor=$minor" \
      gitCommit=0000000000000000000000000000000000000000 gitTreeState=clean "buildDate=${date:-1970-01-01T00:00:00Z}"; do
      out+=" -X $pkg.$kv"
    done
  done
  echo "${out# }"
}

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(etcd kube-apiserver helm kubeconform)
for t in "${want[@]}"; do
  case "$t" in
    etcd) build_wrapper etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3 ;;
    kube-apiserver)
      build_wrapper kube-apiserver k8s.io/kubernetes "$K8S_VERSION" k8s.io/kubernetes/cmd/kube-apiserver \
        "$(kube_replaces)" "$(kube_ldflags)" -stamped ;;
    helm) build_wrapper helm helm.sh/helm/v3 "$HELM_VERSION" helm.sh/helm/v3/cmd/helm ;;
    kubeconform) build_wrapper kubeconform github.com/yannh/kubeconform "$KUBECONFORM_VERSION" github.com/yannh/kubeconform/cmd/kubeconform ;;
    *) log "unknown tool: $t"; exit 2 ;;
  esac
done
echo "$BIN"
