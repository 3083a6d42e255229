#!/usr/bin/env bash
# End-to-end on a real cluster with nodes: creates (or reuses) a kind cluster, installs
# charts/airoute with Helm, applies examples/ and waits until every AIRoute reports Ready.
#
#   tests/e2e/run-kind.sh            # needs docker (with an engine), kind, helm, kubectl
#
# Environment: KIND_CLUSTER_NAME (airoute-e2e), KUBECONFIG (written by kind; default
# $TMPDIR/airoute-e2e.kubeconfig), AIROUTE_IMAGE (airoute:e2e, built from ./Dockerfile and
# loaded into kind when that file exists), HELM_EXTRA_ARGS (added to `helm upgrade --install`),
# E2E_TIMEOUT (5m). `kind delete cluster --name airoute-e2e` removes it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cluster="${KIND_CLUSTER_NAME:-airoute-e2e}"
image="${AIROUTE_IMAGE:-airoute:e2e}"
timeout="${E2E_TIMEOUT:-5m}"
export KUBECONFIG="${KUBECONFIG:-${TMPDIR:-/tmp}/airoute-e2e.kubeconfig}"
step() { echo "run-kind: $*" >&2; }

if ! kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  step "creating kind cluster $cluster"
  kind create cluster --name "$cluster" --kubeconfig "$KUBECONFIG" --wait 180s
else
  kind export kubeconfig --name "$cluster" --kubeconfig "$KUBECONFIG"
fi

image_args=()
if [[ -f "$root/Dockerfile" ]]; then
  step "building $image and loading it into kind"
  docker build -t "$image" "$root"
  kind load docker-image "$image" --name "$cluster"
  image_args=(--set image.registry= --set "image.repository=${image%:*}" --set "image.tag=${image##*:}" --set image.pullPolicy=Never)
fi

# The namespaces the examples live in must exist and be served before the chart is installed:
# the chart creates the controller's and gateway's Roles and the peering object in each.
served=$(grep -rhoE '^\s+namespace:\s*[a-z0-9-]+' "$root/examples" | awk '{print $2}' | sort -u)
for ns in $served; do
  kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
done

step "helm install charts/airoute"
# shellcheck disable=SC2086 # HELM_EXTRA_ARGS is a list of words on purpose
helm upgrade --install airoute "$root/charts/airoute" --namespace airoute-system --create-namespace \
  --set "namespaces={$(echo $served | tr ' ' ',')}" \
  --wait --timeout "$timeout" "${image_args[@]}" ${HELM_EXTRA_ARGS:-}
kubectl wait --for=condition=Established crd/airoutes.airoute.dev --timeout=60s

step "applying examples/"
kubectl apply --server-side -R -f "$root/examples"

step "waiting for every AIRoute to be Ready"
kubectl wait --for=condition=Ready airoutes --all --all-namespaces --timeout="$timeout"
kubectl get airoutes --all-namespaces
