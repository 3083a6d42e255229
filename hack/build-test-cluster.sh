#!/usr/bin/env bash
# Builds (once) or reuses the real kube-apiserver and etcd that the integration tests run
# ("envtest" style: an API server with its etcd, no nodes). They come from their Go modules,
# pinned in hack/test-cluster/go.mod, built with the machine's Go toolchain through the Go
# module proxy.
#
#   hack/build-test-cluster.sh      # prints the bin dir as its last (and only stdout) line
#
# Binaries: ${AIROUTE_TEST_CLUSTER_CACHE:-~/.cache/airoute/test-cluster}/<k8s-version>/bin/
# Go's own caches stay where Go puts them (GOMODCACHE ~/go/pkg/mod, GOCACHE ~/.cache/go-build).
# Progress goes to stderr; the full build log to <k8s-version>/build.log.
# A cold build takes several minutes on 2 cores; when both binaries exist it returns at once.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="$here/test-cluster"
k8s_version="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$mod/go.mod")"
etcd_version="$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2; exit }' "$mod/go.mod")"
cache="${AIROUTE_TEST_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/airoute/test-cluster}"
dir="$cache/$k8s_version"
bin="$dir/bin"
stamp="kubernetes $k8s_version etcd $etcd_version"

built() {
  [[ -x "$bin/kube-apiserver" && -x "$bin/etcd" && -f "$bin/VERSION" ]] &&
    [[ "$(<"$bin/VERSION")" == "$stamp" ]]
}

if built; then
  echo "$bin"
  exit 0
fi

log() { echo "build-test-cluster: $*" >&2; }

go="$(command -v go || true)"
[[ -z "$go" && -x /usr/local/go/bin/go ]] && go=/usr/local/go/bin/go
if [[ -z "$go" ]]; then
  log "no Go toolchain on PATH or at /usr/local/go/bin/go: cannot build kube-apiserver and etcd"
  exit 3
fi

mkdir -p "$dir"
# One build at a time (two test sessions may start together); the second one reuses it.
exec 9>"$dir/.lock"
if command -v flock >/dev/null; then
  flock 9
  if built; then
    echo "$bin"
    exit 0
  fi
fi

minor="${k8s_version#v1.}"
minor="${minor%%.*}"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
version_flags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  version_flags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  version_flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

export CGO_ENABLED=0
tmp="$dir/bin.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
: >"$dir/build.log"

build() { # name package
  local name="$1" pkg="$2" start=$SECONDS
  log "building $name from $pkg ($("$go" env GOVERSION), log: $dir/build.log)"
  # -v names each package as it is compiled: count them as progress.
  if ! (cd "$mod" && "$go" build -v -trimpath -ldflags="-s -w$version_flags" -o "$tmp/$name" "$pkg") 2>&1 |
    tee -a "$dir/build.log" |
    awk -v name="$name" '{ n++ } n % 200 == 0 { printf "build-test-cluster:   %s: %d packages compiled\n", name, n > "/dev/stderr"; fflush("/dev/stderr") }' ||
    [[ ! -x "$tmp/$name" ]]; then
    log "building $name failed; the end of $dir/build.log:"
    tail -n 40 "$dir/build.log" >&2
    exit 1
  fi
  log "built $name in $((SECONDS - start)) s ($(du -h "$tmp/$name" | cut -f1))"
}

log "pinned: $stamp (module $mod)"
build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver

echo "$stamp" >"$tmp/VERSION"
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
log "done: $bin"
echo "$bin"
