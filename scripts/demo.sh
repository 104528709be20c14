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

say "Checking the prerequisites"
bash test/env/prereqs.sh
# shellcheck source=../test/env/node.sh
source test/env/node.sh
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "Installing dependencies"
  npm ci --no-audit --no-fund
fi
say "Compiling"
npx tsc -p tsconfig.json

say "Building the control plane and test tools (first run only) and starting it"
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
registry="$(sed 's#^http://##' "$run_dir/registry-url")"
report_port=19444
webhook_port=19443
# The API server calls the webhook over loopback here; in a cluster it goes through the Service.
SECURESTACK_WEBHOOK_PORT=$webhook_port SECURESTACK_WEBHOOK_URL="https://127.0.0.1:$webhook_port/validate" \
SECURESTACK_NAMESPACE=securestack-system SECURESTACK_METRICS_PORT=0 SECURESTACK_BIND_ADDRESS=127.0.0.1 \
  SECURESTACK_TRIVY_SERVER="$(cat "$run_dir/trivy-server-url")" SECURESTACK_REDIS_URL="$(cat "$run_dir/redis-url")" \
  SECURESTACK_INSECURE_REGISTRIES="$registry" SECURESTACK_REPORT_PORT=$report_port \
  SECURESTACK_REPORT_URL="https://127.0.0.1:$report_port" SECURESTACK_WORKLOAD_NAMESPACES=demo \
  SECURESTACK_COMPLIANCE_CLUSTER_NAMESPACES=demo \
  node --max-semi-space-size=8 --optimize-for-size dist/operator/main.js >"$run_dir/logs/operator.log" 2>&1 &
operator_pid=$!

say "Applying the examples, an ImageScan of a local image, and a Deployment to scan automatically"
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
# The namespaces examples/compliancereport-pss-restricted.yaml grades: one workload that meets
# Pod Security restricted, one that runs as root with a privileged init container.
kubectl apply --server-side --force-conflicts -f test/fixtures/openreports/ >/dev/null
for ns in payments payments-staging; do
  kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
done
printf '%s\n' \
  'apiVersion: apps/v1' 'kind: Deployment' 'metadata: {name: checkout, namespace: payments}' \
  'spec:' '  replicas: 0' '  selector: {matchLabels: {app: checkout}}' '  template:' '    metadata: {labels: {app: checkout}}' \
  '    spec:' '      containers:' "      - {name: app, image: $registry/fixtures/alpine-app:1, securityContext: {allowPrivilegeEscalation: false, runAsNonRoot: true, runAsUser: 1000, capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}}" \
  '---' 'apiVersion: apps/v1' 'kind: Deployment' 'metadata: {name: ledger, namespace: payments-staging}' \
  'spec:' '  replicas: 0' '  selector: {matchLabels: {app: ledger}}' '  template:' '    metadata: {labels: {app: ledger}}' \
  '    spec:' '      initContainers:' "      - {name: setup, image: $registry/fixtures/debian-app:1, securityContext: {privileged: true}}" \
  '      containers:' "      - {name: app, image: $registry/fixtures/debian-app:1}" |
  kubectl apply -f - >/dev/null
kubectl apply -n demo -f examples/
printf 'apiVersion: securestack.io/v1alpha1\nkind: ImageScan\nmetadata:\n  name: debian-app\nspec:\n  image: %s/fixtures/debian-app:1\n' "$registry" |
  kubectl apply -n demo -f -
kubectl create deployment shop -n demo --image="$registry/fixtures/alpine-app:1" --replicas=2 --dry-run=client -o yaml |
  kubectl apply -f - >/dev/null

say "SecureStack's own image: built from the Dockerfile (buildah, no Docker engine), pushed to the local registry, scanned by SecureStack"
# The first build makes the Node base image from Debian packages: about 3 minutes, once.
self_image="$(bash test/env/image.sh --push "$registry/securestack/operator:demo" | tail -n 1)"
printf 'apiVersion: securestack.io/v1alpha1\nkind: ImageScan\nmetadata:\n  name: securestack-self\nspec:\n  image: %s\n' "$self_image" |
  kubectl apply -n demo -f -

say "Waiting for the scans (the examples name public images, which this offline machine cannot reach)"
for _ in $(seq 1 240); do
  finished=$(kubectl get imagescans -n demo -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -cE '^(Completed|Failed)$' || true)
  total=$(kubectl get imagescans -n demo --no-headers 2>/dev/null | wc -l)
  [ "$total" -gt 3 ] && [ "$finished" -eq "$total" ] && break
  sleep 1
done

say "kubectl get securestack -A"
kubectl get securestack -A
say "kubectl get jobs -n demo"
kubectl get jobs -n demo
say "kubectl get imagescan debian-app -n demo -o yaml (status, first 5 findings)"
kubectl get imagescan debian-app -n demo -o jsonpath='{.status}' |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const st=JSON.parse(s);st.topFindings=(st.topFindings||[]).slice(0,5);console.log(require("js-yaml").dump({status:st}))})'
say "kubectl get imagescan securestack-self -n demo: SecureStack's own image, scanned by itself"
kubectl get imagescan securestack-self -n demo -o wide
say "Events"
kubectl get events -n demo --field-selector involvedObject.kind=ImageScan --sort-by=.lastTimestamp | tail -n 12

say "Admission: the ScanPolicies from examples/"
kubectl wait --for=condition=Ready --timeout=60s scanpolicies --all >/dev/null || true
kubectl get scanpolicies
kubectl create namespace restricted-demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl label namespace restricted-demo securestack.io/profile=restricted --overwrite >/dev/null
privileged="$(printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: privileged\nspec:\n  containers:\n    - name: app\n      image: %s/fixtures/debian-app:1\n      securityContext:\n        privileged: true\n' "$registry")"
# The API server reads the webhook configuration from its own watch: wait until it sends requests.
for _ in $(seq 1 60); do
  if ! printf '%s\n' "$privileged" | kubectl create --dry-run=server -n restricted-demo -f - >/dev/null 2>&1; then break; fi
  sleep 0.5
done
say "kubectl apply of a privileged Pod in restricted-demo (policy enforce-restricted, mode Enforce)"
printf '%s\n' "$privileged" | kubectl apply -n restricted-demo -f - || true
say "kubectl apply of a Deployment using :latest (policy warn-best-practices, mode Warn)"
kubectl create deployment latest -n demo --image=nginx:latest --dry-run=client -o yaml | kubectl apply -f - || true

say "Compliance: the ComplianceReports from examples/ (CIS over the cluster, Pod Security restricted over payments)"
kubectl wait --for=jsonpath='{.status.phase}'=Completed --timeout=120s -n demo compliancereports --all >/dev/null || true
kubectl get compliancereports -n demo
for report in cluster-cis payments-pss-restricted; do
  say "Failing controls of $report, with up to two example objects each"
  kubectl get compliancereport "$report" -n demo -o jsonpath='{.status}' |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const st=JSON.parse(s);for(const c of st.controls||[]){if(c.result!=="Fail")continue;console.log(`${c.id} [${c.severity}] ${c.title}: ${c.failed} failed, ${c.passed} passed`);for(const e of (c.examples||[]).slice(0,2))console.log(`    ${e.kind} ${e.namespace?e.namespace+"/":""}${e.name}: ${e.message}`)}})'
done
say "OpenReports written for them (kubectl get reports.openreports.io -A)"
kubectl get reports.openreports.io -A -l securestack.io/compliancereport-namespace=demo

say "Schedules: the ScheduledScans from examples/, and one that scans the images running in demo every minute"
printf '%s\n' 'apiVersion: securestack.io/v1alpha1' 'kind: ScheduledScan' 'metadata: {name: demo-running-images, namespace: demo}' \
  'spec:' '  schedule: "* * * * *"' '  concurrencyPolicy: Forbid' '  successfulRunsHistoryLimit: 1' \
  '  runningImagesTemplate:' '    spec:' '      scope: {namespaces: [demo]}' | kubectl apply -f -
say "kubectl apply of a ScheduledScan with a range that runs backwards (the webhook refuses it)"
printf '%s\n' 'apiVersion: securestack.io/v1alpha1' 'kind: ScheduledScan' 'metadata: {name: backwards, namespace: demo}' \
  'spec:' '  schedule: "0 5-3 * * *"' '  imageScanTemplate: {spec: {image: nginx:1.27}}' | kubectl apply -f - || true
say "Waiting for the first run of demo-running-images (it is due at the next whole minute)"
for _ in $(seq 1 150); do
  [ -n "$(kubectl get scheduledscan demo-running-images -n demo -o jsonpath='{.status.recentRuns[0].name}')" ] && break
  sleep 1
done
kubectl get scheduledscans -n demo -o wide
say "The run's summary (status.recentRuns[0]) and the schedule's Events"
kubectl get scheduledscan demo-running-images -n demo -o jsonpath='{.status.recentRuns[0]}' |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(require("js-yaml").dump(JSON.parse(s||"{}"))))'
kubectl get events -n demo --field-selector involvedObject.kind=ScheduledScan --sort-by=.lastTimestamp | tail -n 6
