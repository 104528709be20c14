#!/usr/bin/env bash
# The local demo: starts the embedded control plane, installs the CRDs, runs the operator,
# applies every example and prints what SecureStack made of them.
#
#   npm run demo                      # everything, then stops the operator and the plane
#   SECURESTACK_DEMO_KEEP=1 npm run demo   # leave the plane running to explore with kubectl
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "Installing dependencies"
  npm ci --no-audit --no-fund
fi
say "Compiling"
npx tsc -p tsconfig.json

say "Starting the control plane (kube-apiserver, controller-manager, scheduler, etcd, kwok)"
bash test/env/build.sh >/dev/null
kubeconfig="$(bash test/env/start.sh | tail -n 1)"
export KUBECONFIG="$kubeconfig"
run_dir="$(dirname "$kubeconfig")"

operator_pid=""
cleanup() {
  [ -n "$operator_pid" ] && kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null || true
  if [ "${SECURESTACK_DEMO_KEEP:-}" = 1 ]; then
    echo; echo "The plane keeps running: export KUBECONFIG=$kubeconfig; stop it with: bash test/env/stop.sh"
  else
    bash test/env/stop.sh >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

say "Installing the CRDs"
kubectl apply --server-side --force-conflicts -f crds/
kubectl wait --for=condition=Established --timeout=60s -f crds/ >/dev/null

say "Running the operator (log: $run_dir/logs/operator.log)"
kubectl create namespace securestack-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null
SECURESTACK_NAMESPACE=securestack-system SECURESTACK_METRICS_PORT=0 SECURESTACK_BIND_ADDRESS=127.0.0.1 \
  node dist/operator/main.js >"$run_dir/logs/operator.log" 2>&1 &
operator_pid=$!

say "Applying the examples"
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n demo -f examples/

say "Waiting for the ImageScans to get their scan Jobs"
for _ in $(seq 1 60); do
  pending=$(kubectl get imagescans -n demo -o jsonpath='{range .items[*]}{.status.jobName}{"|"}{end}' | tr '|' '\n' | grep -c '^$' || true)
  total=$(kubectl get imagescans -n demo --no-headers 2>/dev/null | wc -l)
  [ "$total" -gt 0 ] && [ "$pending" -eq 0 ] && break
  sleep 1
done
sleep 3

say "kubectl get securestack -A"
kubectl get securestack -A
say "kubectl get jobs -n demo"
kubectl get jobs -n demo
first="$(kubectl get imagescans -n demo -o jsonpath='{.items[0].metadata.name}')"
say "kubectl get imagescan $first -n demo -o yaml (status)"
kubectl get imagescan "$first" -n demo -o jsonpath='{.status}' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(require("js-yaml").dump({status:JSON.parse(s)})))'
say "Events"
kubectl get events -n demo --field-selector involvedObject.kind=ImageScan
