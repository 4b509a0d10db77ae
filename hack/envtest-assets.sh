#!/usr/bin/env bash
# Builds the control-plane binaries envtest needs (etcd, kube-apiserver and,
# with --kubectl, kubectl) from the Go module proxy, caches them outside the
# repository keyed by version, and prints the directory to use as
# KUBEBUILDER_ASSETS on stdout. Progress goes to stderr.
#
# Why build: setup-envtest downloads release tarballs from the internet, which
# this project's machines cannot reach; the Go module proxy they can.
#
#   hack/envtest-assets.sh            # etcd + kube-apiserver
#   hack/envtest-assets.sh --kubectl  # also kubectl of the same version
#
# Environment:
#   KUBEBUILDER_ASSETS   if set and it holds etcd and kube-apiserver, it is
#                        printed as is and nothing is built.
#   ENVTEST_K8S_VERSION  default 1.37.2 (k8s.io/kubernetes; staging v0.<minor>.<patch>)
#   ENVTEST_ETCD_VERSION default 3.6.16 (go.etcd.io/etcd/server/v3)
#   ENVTEST_CACHE_DIR    default ${XDG_CACHE_HOME:-$HOME/.cache}/sendblue-operator/envtest
set -euo pipefail

K8S_VERSION=${ENVTEST_K8S_VERSION:-1.37.2}
ETCD_VERSION=${ENVTEST_ETCD_VERSION:-3.6.16}
CACHE_ROOT=${ENVTEST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sendblue-operator/envtest}
WANT_KUBECTL=0
for arg in "$@"; do
  case "$arg" in
    --kubectl) WANT_KUBECTL=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "envtest-assets: unknown argument $arg" >&2; exit 2 ;;
  esac
done

log() { printf 'envtest-assets: %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  log "The envtest control plane (etcd, kube-apiserver) is required by 'make test'; it is never skipped."
  log "Fix the cause above, or point KUBEBUILDER_ASSETS at a directory holding etcd and kube-apiserver."
  exit 1
}

has_assets() { [ -x "$1/etcd" ] && [ -x "$1/kube-apiserver" ] && { [ "$WANT_KUBECTL" = 0 ] || [ -x "$1/kubectl" ]; }; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  if has_assets "$KUBEBUILDER_ASSETS"; then
    echo "$KUBEBUILDER_ASSETS"; exit 0
  fi
  die "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS does not hold executable etcd and kube-apiserver$([ "$WANT_KUBECTL" = 1 ] && echo ' and kubectl')"
fi

command -v go >/dev/null || die "go is not on PATH"

DIR="$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-$(go env GOOS)-$(go env GOARCH)"
mkdir -p "$DIR" || die "cannot create cache directory $DIR"

# One builder at a time per cache directory; a second caller waits, then reuses.
exec 9>"$DIR/.lock"
if command -v flock >/dev/null; then flock 9; fi

if has_assets "$DIR"; then echo "$DIR"; exit 0; fi

staging_version="v0.${K8S_VERSION#*.}"   # 1.37.2 -> v0.37.2
export GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-auto} CGO_ENABLED=0
work=$(mktemp -d "${TMPDIR:-/tmp}/envtest-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

build_etcd() {
  [ -x "$DIR/etcd" ] && return 0
  log "building etcd v$ETCD_VERSION from the Go module proxy (about 1-1.5 min on 2 cores)"
  local m="$work/etcd"; mkdir -p "$m"
  ( cd "$m"
    go mod init envtest-etcd >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >"$m/get.log" 2>&1 || { cat "$m/get.log" >&2; exit 1; }
    go build -trimpath -ldflags "-s -w" -o "$m/etcd.bin" go.etcd.io/etcd/server/v3 ) \
    || die "building etcd v$ETCD_VERSION failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
  mv -f "$m/etcd.bin" "$DIR/etcd"
}

# k8s.io/kubernetes is not meant to be a dependency: its go.mod points every
# staging module at ./staging. Replace each with its published v0.x version.
k8s_module() {
  local m="$work/k8s"
  [ -f "$m/go.mod" ] && { echo "$m"; return 0; }
  mkdir -p "$m"
  ( cd "$m"
    go mod init envtest-k8s >/dev/null 2>&1
    gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
    [ -f "$gomod" ] || exit 1
    staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$gomod")
    [ -n "$staging" ] || exit 1
    for s in $staging; do go mod edit -replace "$s=$s@$staging_version"; done
    go mod edit -require "k8s.io/kubernetes@v$K8S_VERSION" ) >&2 || return 1
  echo "$m"
}

build_k8s() { # $1 = command name under k8s.io/kubernetes/cmd
  local name=$1 m
  [ -x "$DIR/$name" ] && return 0
  m=$(k8s_module) || die "preparing the k8s.io/kubernetes v$K8S_VERSION module failed"
  local est="about 1 min more"; [ "$name" = kube-apiserver ] && est="about 5-8 min on 2 cores"
  log "building $name v$K8S_VERSION from the Go module proxy ($est)"
  local ver="-X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=${K8S_VERSION%%.*} -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
  ( cd "$m"
    go get "k8s.io/kubernetes/cmd/$name@v$K8S_VERSION" >"$m/get-$name.log" 2>&1 || { cat "$m/get-$name.log" >&2; exit 1; }
    go build -trimpath -ldflags "-s -w $ver" -o "$m/$name.bin" "k8s.io/kubernetes/cmd/$name" ) \
    || die "building $name v$K8S_VERSION failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
  mv -f "$m/$name.bin" "$DIR/$name"
}

start=$(date +%s)
build_etcd
build_k8s kube-apiserver
[ "$WANT_KUBECTL" = 1 ] && build_k8s kubectl
log "assets ready in $DIR ($(( $(date +%s) - start ))s)"
echo "$DIR"
