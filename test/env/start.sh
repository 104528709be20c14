#!/usr/bin/env bash
# Starts the SecureStack test control plane on loopback and prints the admin kubeconfig path as the
# last line of stdout. Progress and errors go to stderr.
#
#   etcd -> kube-apiserver -> kube-controller-manager, kube-scheduler, kwok -> fake node(s)
#
# Idempotent: if the plane in the run dir is already up and healthy, it only prints the path.
# If it is half up (a component died), it is stopped and started fresh.
# On failure everything this script started is stopped again; logs stay in <run dir>/logs.
#
# Environment (all optional):
#   SECURESTACK_RUN_DIR            run dir (certs, logs, pids, etcd data, kubeconfig)  [<repo>/.testenv/run]
#   SECURESTACK_BIN_DIR            folder with the five binaries                       [built by build.sh]
#   SECURESTACK_ETCD_PORT          etcd client port                                     [23790]
#   SECURESTACK_ETCD_PEER_PORT     etcd peer port                                       [23800]
#   SECURESTACK_APISERVER_PORT     kube-apiserver secure port                           [16443]
#   SECURESTACK_KCM_PORT           kube-controller-manager secure (healthz) port        [16257]
#   SECURESTACK_SCHEDULER_PORT     kube-scheduler secure (healthz) port                 [16259]
#   SECURESTACK_KWOK_PORT          kwok healthz/metrics port (plain HTTP)               [16280]
#   SECURESTACK_KWOK_NODES         number of fake nodes                                 [1]
#   SECURESTACK_START_TIMEOUT      seconds to wait for each readiness step              [180]
#   SECURESTACK_REGISTRY_PORT      anonymous OCI registry, plain HTTP                   [16500]
#   SECURESTACK_AUTH_REGISTRY_PORT OCI registry with basic auth, plain HTTP             [16501]
#   SECURESTACK_REDIS_PORT         redis-server for the shared scan cache               [16379]
#   SECURESTACK_TRIVY_PORT         Trivy server (client/server scans), plain HTTP       [16454]
#   SECURESTACK_NODEPLAYER         0 = do not start the node player (test/env/nodeplayer)  [1]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# The node player runs on the Node the image ships, as the tests do (node.sh; SecureStack needs >= 22.19).
# shellcheck source=node.sh
source "$here/node.sh"
# shellcheck source=versions.sh
source "$here/versions.sh"

run="${SECURESTACK_RUN_DIR:-$root/.testenv/run}"
etcd_port="${SECURESTACK_ETCD_PORT:-23790}"
etcd_peer_port="${SECURESTACK_ETCD_PEER_PORT:-23800}"
api_port="${SECURESTACK_APISERVER_PORT:-16443}"
kcm_port="${SECURESTACK_KCM_PORT:-16257}"
sched_port="${SECURESTACK_SCHEDULER_PORT:-16259}"
kwok_port="${SECURESTACK_KWOK_PORT:-16280}"
registry_port="${SECURESTACK_REGISTRY_PORT:-16500}"
auth_registry_port="${SECURESTACK_AUTH_REGISTRY_PORT:-16501}"
redis_port="${SECURESTACK_REDIS_PORT:-16379}"
trivy_port="${SECURESTACK_TRIVY_PORT:-16454}"
nodes="${SECURESTACK_KWOK_NODES:-1}"
step_timeout="${SECURESTACK_START_TIMEOUT:-180}"
# Fixed on purpose: the apiserver certificate carries the first address of this range
# (the `kubernetes` Service IP) as a SAN.
service_cidr="10.96.0.0/16"
service_ip="10.96.0.1"
pod_cidr="10.244.0.0/16"
# Reported as every fake node's InternalIP (and so as pods' hostIP); nothing ever dials it.
node_ip="10.0.0.1"
# kwok manages only nodes carrying this annotation, so a stray real node would be left alone.
kwok_selector_key="kwok.x-k8s.io/node"
kwok_selector_value="fake"

pki="$run/pki"
logs="$run/logs"
pids="$run/pids"
kubeconfig="$run/kubeconfig"
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { echo "start.sh: $*" >&2; }

# ---------------------------------------------------------------------------------------------
# process helpers (shared contract with stop.sh: pids/<name>.pid, command line mentions $run)

pid_of() { local f="$pids/$1.pid"; [ -s "$f" ] && cat "$f" || true; }

# A pid counts as ours only if the process is alive and its command line mentions the run dir,
# so a recycled pid of an unrelated process is never mistaken for a component.
alive() {
  local pid; pid="$(pid_of "$1")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$run"
}

# Runs a component in its own session (setsid) so Ctrl-C in the caller's terminal does not
# kill it mid-test and it outlives this script; stop.sh shuts it down in order instead.
# The child writes its own pid before exec'ing, so the pid file names the component itself.
launch() {
  local name=$1; shift
  rm -f "$pids/$name.pid"
  echo "=== $(date -u +%FT%TZ) $*" >>"$logs/$name.log"
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pids/$name.pid" "$@" >>"$logs/$name.log" 2>&1 </dev/null 9>&- &
  local i
  for i in $(seq 50); do [ -s "$pids/$name.pid" ] && return 0; sleep 0.1; done
  log "ERROR: $name did not start (see $logs/$name.log)"; return 1
}

# wait_until <what> <component or -> <command...>: polls the command until it succeeds, failing
# fast with the component's log tail if the component exits in the meantime.
wait_until() {
  local what=$1 comp=$2; shift 2
  local deadline=$((SECONDS + step_timeout))
  until "$@" >/dev/null 2>&1; do
    if [ "$comp" != - ] && ! alive "$comp"; then
      log "ERROR: $comp exited while waiting for $what; last log lines ($logs/$comp.log):"
      tail -n 25 "$logs/$comp.log" >&2 || true
      return 1
    fi
    if (( SECONDS >= deadline )); then
      log "ERROR: timed out after ${step_timeout}s waiting for $what (logs in $logs)"
      [ "$comp" != - ] && tail -n 25 "$logs/$comp.log" >&2
      return 1
    fi
    sleep 0.3
  done
}

# ---------------------------------------------------------------------------------------------
# health

api_get() {
  curl -sf --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://127.0.0.1:$api_port$1"
}
kc() { kubectl --kubeconfig "$kubeconfig" --request-timeout=10s "$@"; }

all_alive() { local c; for c in "${components[@]}"; do alive "$c" || return 1; done; }
any_pidfile() { compgen -G "$pids/*.pid" >/dev/null; }
healthy() { all_alive && registries_up && trivy_server_up && redis_up && [ -s "$kubeconfig" ] && api_get /readyz >/dev/null 2>&1; }

# The scheduler only places pods on nodes without NoSchedule taints; the node lifecycle controller
# removes the initial not-ready taint once kwok reports the node Ready.
nodes_schedulable() {
  local out
  out="$(kc get nodes -l "securestack.io/kwok-node=true" \
    -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.conditions[?(@.type=="Ready")].status}{" "}{.spec.taints}{"\n"}{end}')"
  [ "$(grep -c ' True $' <<<"$out" || true)" -ge "$nodes" ]
}

port_free() { ! ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }

# ---------------------------------------------------------------------------------------------
# certificates and kubeconfigs

# One CA signs everything: the apiserver serving cert and each component's client cert.
# Client identities follow kubeadm, so the bootstrap RBAC roles apply unchanged.
gen_pki() {
  [ -f "$pki/.complete" ] && return 0
  command -v openssl >/dev/null || { log "ERROR: openssl is required to generate certificates"; return 1; }
  log "generating certificates in $pki"
  rm -rf "$pki" && mkdir -p "$pki"
  cat >"$pki/openssl.cnf" <<EOF
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP:127.0.0.1, IP:$service_ip
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
EOF
  ( cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -config openssl.cnf -extensions ca \
      -subj "/CN=securestack-test-ca" -keyout ca.key -out ca.crt 2>/dev/null
    sign() { # name subject extension-section
      openssl req -new -newkey rsa:2048 -nodes -config openssl.cnf -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
      openssl x509 -req -sha256 -days 3650 -in "$1.csr" -CA ca.crt -CAkey ca.key \
        -set_serial "0x$(openssl rand -hex 16)" -extfile openssl.cnf -extensions "$3" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr"
    }
    sign apiserver "/CN=kube-apiserver" server
    sign admin "/O=system:masters/CN=securestack-admin" client
    sign kube-controller-manager "/CN=system:kube-controller-manager" client
    sign kube-scheduler "/CN=system:kube-scheduler" client
    # kwok plays every fake kubelet at once, so the node authorizer's per-node identity does not fit.
    sign kwok "/O=system:masters/CN=kwok" client
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    chmod 600 ./*.key
    touch .complete
  )
}

b64() { base64 -w0 <"$1"; }

# write_kubeconfig <file> <cert name>: self-contained (embedded certs), so it can be copied around.
write_kubeconfig() {
  local file=$1 who=$2
  (umask 077 && cat >"$file.tmp") <<EOF
apiVersion: v1
kind: Config
clusters:
- name: securestack-test
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: $who
  user:
    client-certificate-data: $(b64 "$pki/$who.crt")
    client-key-data: $(b64 "$pki/$who.key")
contexts:
- name: securestack-test
  context:
    cluster: securestack-test
    user: $who
current-context: securestack-test
EOF
  mv "$file.tmp" "$file"
}

# ---------------------------------------------------------------------------------------------
# components

start_etcd() {
  # --unsafe-no-fsync: the data is thrown away by stop.sh anyway, and fsync dominates write latency.
  launch etcd "$bin/etcd" \
    --name=securestack-test \
    --data-dir="$run/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" \
    --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster="securestack-test=http://127.0.0.1:$etcd_peer_port" \
    --unsafe-no-fsync \
    --log-level=warn
  wait_until "etcd health" etcd curl -sf --max-time 2 "http://127.0.0.1:$etcd_port/health"
}

# The API server's "cluster" egress (webhooks and aggregated APIs called through their Service,
# kubelet traffic) goes through the node player's HTTP CONNECT proxy, which plays kube-proxy for
# the pods it runs in their own network (test/env/nodeplayer/services.ts). Targets it does not
# know are dialled as they are.
write_egress_config() {
  cat >"$run/egress-selector.yaml" <<EOF
apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: $run/nodeplayer/cluster-egress.sock
EOF
}

start_apiserver() {
  write_egress_config
  # Default admission plugins stay on (NamespaceLifecycle, LimitRanger, ServiceAccount, PodSecurity,
  # Mutating/ValidatingAdmissionWebhook, ValidatingAdmissionPolicy, ResourceQuota, ...);
  # NodeRestriction is added as in kubeadm clusters.
  # --allow-privileged: tests must be able to submit privileged pods to see *our* policies reject them.
  # --endpoint-reconciler-type=none: endpoints may not point at loopback, and nothing in this
  #   cluster dials the `kubernetes` Service anyway (webhooks are called by URL on 127.0.0.1).
  launch kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="$api_port" \
    --cert-dir="$run/apiserver" \
    --tls-cert-file="$pki/apiserver.crt" \
    --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --authorization-mode=Node,RBAC \
    --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range="$service_cidr" \
    --endpoint-reconciler-type=none \
    --egress-selector-config-file="$run/egress-selector.yaml" \
    --profiling=false
  wait_until "kube-apiserver /readyz" kube-apiserver api_get /readyz
}

start_controllers() {
  # Single instances: leader election would only add a lease round trip to start-up.
  launch kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig="$run/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig="$run/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig="$run/kube-controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="$kcm_port" \
    --cert-dir="$run/kube-controller-manager" \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --root-ca-file="$pki/ca.crt" \
    --service-account-private-key-file="$pki/sa.key" \
    --cluster-signing-cert-file="$pki/ca.crt" \
    --cluster-signing-key-file="$pki/ca.key" \
    --service-cluster-ip-range="$service_cidr" \
    --kube-api-qps=100 \
    --kube-api-burst=200 \
    --profiling=false
  launch kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig="$run/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="$run/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="$run/kube-scheduler.kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="$sched_port" \
    --leader-elect=false \
    --profiling=false
  launch kwok "$bin/kwok" \
    --kubeconfig="$run/kwok.kubeconfig" \
    --config="$here/kwok/stages.yaml" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector="$kwok_selector_key=$kwok_selector_value" \
    --cidr="$pod_cidr" \
    --node-ip="$node_ip" \
    --node-lease-duration-seconds=40 \
    --server-address="127.0.0.1:$kwok_port"
  wait_until "kube-controller-manager /healthz" kube-controller-manager \
    curl -skf --max-time 2 "https://127.0.0.1:$kcm_port/healthz"
  wait_until "kube-scheduler /healthz" kube-scheduler \
    curl -skf --max-time 2 "https://127.0.0.1:$sched_port/healthz"
  wait_until "kwok /healthz" kwok curl -sf --max-time 2 "http://127.0.0.1:$kwok_port/healthz"
}

create_nodes() {
  local i manifest=""
  for ((i = 0; i < nodes; i++)); do
    manifest+="---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    $kwok_selector_key: $kwok_selector_value
    node.alpha.kubernetes.io/ttl: \"0\"
  labels:
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node-role.kubernetes.io/agent: \"\"
    type: kwok
    securestack.io/kwok-node: \"true\"
"
  done
  kc apply -f - <<<"$manifest" >/dev/null
  wait_until "$nodes kwok node(s) Ready and untainted" kwok nodes_schedulable
  # The ServiceAccount admission plugin rejects pods in a namespace until its `default`
  # ServiceAccount exists; the controller-manager creates it shortly after start.
  wait_until "ServiceAccount default/default" kube-controller-manager kc get serviceaccount default -n default
}

# ---------------------------------------------------------------------------------------------
# OCI registries for the image-scanning tests (Debian's docker-registry, distribution 2.8), plain
# HTTP on loopback: `registry` anonymous, `auth-registry` with htpasswd basic auth for one test
# user. Storage lives in <run>/registry/<name>/data and is wiped on start and stop; images.sh
# pushes the fixture images. Addresses: <run>/registry-url, <run>/auth-registry-url; credentials:
# <run>/auth-registry-dockerconfig.json (a .dockerconfigjson).
registry_user="securestack"
registry_password="securestack-test-password"

registries_up() { alive registry && alive auth-registry && [ -s "$run/images.json" ]; }

registry_config() { # name port [htpasswd file]
  local dir="$run/registry/$1"
  rm -rf "$dir/data" && mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  redirect:
    disable: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$2
  secret: $(openssl rand -hex 16)
  headers:
    X-Content-Type-Options: [nosniff]
EOF
  if [ -n "${3:-}" ]; then
    printf 'auth:\n  htpasswd:\n    realm: securestack-test-registry\n    path: %s\n' "$3" >>"$dir/config.yml"
  fi
}

start_registries() {
  command -v docker-registry >/dev/null ||
    { log "ERROR: docker-registry is required (apt-get install docker-registry; bash test/env/prereqs.sh installs it)"; return 1; }
  command -v htpasswd >/dev/null ||
    { log "ERROR: htpasswd is required for the registry's bcrypt password file (apt-get install apache2-utils; bash test/env/prereqs.sh installs it)"; return 1; }
  mkdir -p "$run/registry"
  rm -f "$run/registry-url" "$run/auth-registry-url" "$run/images.json"
  htpasswd -Bbn "$registry_user" "$registry_password" >"$run/registry/htpasswd" 2>/dev/null
  registry_config registry "$registry_port"
  registry_config auth-registry "$auth_registry_port" "$run/registry/htpasswd"
  launch registry docker-registry serve "$run/registry/registry/config.yml"
  launch auth-registry docker-registry serve "$run/registry/auth-registry/config.yml"
  wait_until "registry /v2/" registry curl -sf --max-time 2 "http://127.0.0.1:$registry_port/v2/"
  wait_until "auth-registry /v2/ with the test user" auth-registry \
    curl -sf --max-time 2 -u "$registry_user:$registry_password" "http://127.0.0.1:$auth_registry_port/v2/"
  local auth; auth="$(printf '%s:%s' "$registry_user" "$registry_password" | base64 -w0)"
  (umask 077 && printf '{"auths":{"127.0.0.1:%s":{"username":"%s","password":"%s","auth":"%s"}}}\n' \
    "$auth_registry_port" "$registry_user" "$registry_password" "$auth" >"$run/auth-registry-dockerconfig.json")
  echo "http://127.0.0.1:$registry_port" >"$run/registry-url"
  echo "http://127.0.0.1:$auth_registry_port" >"$run/auth-registry-url"
  SECURESTACK_RUN_DIR="$run" SECURESTACK_BIN_DIR="$bin" bash "$here/images.sh"
}

# ---------------------------------------------------------------------------------------------
# The node player (test/env/nodeplayer, docs/testenv.md): plays the kubelet for pods labelled
# securestack.io/component=scanner or =operator, running their containers as local processes or
# from an image's unpacked root file system. It needs the compiled dist/, and an image map
# (<run>/nodeplayer-images.json, plus any <run>/nodeplayer-images.d/*.json a test adds) saying
# what each image runs.
nodeplayer_wanted() { [ "${SECURESTACK_NODEPLAYER:-1}" != 0 ]; }
nodeplayer_main="$root/dist/test/env/nodeplayer/main.js"

write_nodeplayer_images() { # bin dir
  local chart_repo trivy="$1/trivy"
  chart_repo="$(awk '/^image:/{f=1;next} f&&/^[^ ]/{f=0} f&&/repository:/{print $2; exit}' "$root/charts/securestack/values.yaml" 2>/dev/null || true)"
  local extra=""
  if [ -n "$chart_repo" ] && [ "$chart_repo" != ghcr.io/securestack/securestack ]; then
    extra="\"$chart_repo\": { \"entrypoint\": [\"node\"], \"workingDir\": \"$root\" },"
  fi
  # image repository (no tag or digest) -> { entrypoint, cmd?, workingDir? }: what the image runs.
  cat >"$run/nodeplayer-images.json.tmp" <<EOF
{
  "docker.io/aquasec/trivy": { "entrypoint": ["$trivy"] },
  "aquasec/trivy": { "entrypoint": ["$trivy"] },
  "ghcr.io/aquasecurity/trivy": { "entrypoint": ["$trivy"] },
  "ghcr.io/securestack/securestack": { "entrypoint": ["node"], "workingDir": "$root" },
  $extra
  "securestack.test/malformed-scanner": { "entrypoint": ["node", "$root/dist/test/support/fake-scanner.js", "malformed"] },
  "securestack.test/large-scanner": { "entrypoint": ["node", "$root/dist/test/support/fake-scanner.js", "large"] },
  "securestack.test/shell": { "entrypoint": ["/bin/sh", "-c"] }
}
EOF
  mv "$run/nodeplayer-images.json.tmp" "$run/nodeplayer-images.json"
}

start_nodeplayer() {
  local stale=0 src
  [ -f "$nodeplayer_main" ] || stale=1
  for src in "$root"/test/env/nodeplayer/*.ts; do [ "$src" -nt "$nodeplayer_main" ] && stale=1; done
  if [ "$stale" = 1 ]; then
    log "compiling the node player (tsc)"
    (cd "$root" && npx tsc -p tsconfig.json >&2) || log "warning: tsc reported errors (see above)"
    for src in "$root"/test/env/nodeplayer/*.ts; do
      [ -f "$nodeplayer_main" ] && ! [ "$src" -nt "$nodeplayer_main" ] ||
        { log "ERROR: $nodeplayer_main is missing or older than $src after tsc"; return 1; }
    done
  fi
  rm -f "$run/nodeplayer/ready"
  SECURESTACK_NODEPLAYER_IMAGES="$run/nodeplayer-images.json" \
    launch nodeplayer "$(command -v node)" "$nodeplayer_main" --run-dir "$run" --kubeconfig "$kubeconfig"
  wait_until "node player ready" nodeplayer test -s "$run/nodeplayer/ready"
}

# ---------------------------------------------------------------------------------------------
# Trivy server for client/server scans (test/trivy.test.ts, scanner Jobs): plain HTTP on loopback,
# serving the vulnerability DB fixture of test/env/build-trivydb.sh, copied into
# <run>/trivy/cache/db and never updated (--skip-db-update). Address: <run>/trivy-server-url.
# Redis for the shared scan cache (Debian's redis-server), on loopback, no persistence. The
# process title carries the config path (in the run dir) so alive() recognises it.
redis_up() { alive redis && [ -s "$run/redis-url" ]; }

start_redis() {
  command -v redis-server >/dev/null ||
    { log "ERROR: redis-server is required (apt-get install redis-server; bash test/env/prereqs.sh installs it)"; return 1; }
  mkdir -p "$run/redis"
  rm -f "$run/redis-url"
  printf 'bind 127.0.0.1\nport %s\nsave ""\nappendonly no\ndir %s\nprotected-mode yes\nproc-title-template "{title} {listen-addr} {config-file}"\n' \
    "$redis_port" "$run/redis" >"$run/redis/redis.conf"
  launch redis redis-server "$run/redis/redis.conf"
  wait_until "redis PING" redis redis-cli -h 127.0.0.1 -p "$redis_port" ping
  echo "redis://127.0.0.1:$redis_port" >"$run/redis-url"
}

trivy_server_up() { alive trivy-server && [ -s "$run/trivy-server-url" ]; }

start_trivy_server() {
  local dbdir cache="$run/trivy/cache"
  [ -x "$bin/trivy" ] || { log "ERROR: $bin/trivy is missing (build.sh builds it; with SECURESTACK_BIN_DIR, put trivy there too)"; return 1; }
  dbdir="$(bash "$here/build-trivydb.sh" | tail -n 1)"
  rm -rf "$cache" "$run/trivy-server-url" && mkdir -p "$cache/db"
  cp "$dbdir/trivy.db" "$dbdir/metadata.json" "$cache/db/"
  launch trivy-server "$bin/trivy" server --listen "127.0.0.1:$trivy_port" --cache-dir "$cache" \
    --skip-db-update --no-progress
  wait_until "trivy server /healthz" trivy-server curl -sf --max-time 2 "http://127.0.0.1:$trivy_port/healthz"
  echo "http://127.0.0.1:$trivy_port" >"$run/trivy-server-url"
}

# ---------------------------------------------------------------------------------------------
# main

mkdir -p "$run"
# Two concurrent start.sh runs on one run dir would race on ports and pid files.
exec 9>"$run/.lock"
flock -w 300 9 || { log "ERROR: another start.sh/stop.sh holds $run/.lock"; exit 1; }

if healthy; then
  if nodeplayer_wanted && ! alive nodeplayer; then
    log "node player not running; starting it (logs in $logs/nodeplayer.log)"
    start_nodeplayer
  fi
  log "control plane already running (logs in $logs)"
  echo "$kubeconfig"
  exit 0
fi
if any_pidfile; then
  log "control plane is only partly running; restarting it"
  SECURESTACK_STOP_LOCKED=1 bash "$here/stop.sh" >&2
fi

if [ -n "${SECURESTACK_BIN_DIR:-}" ]; then
  bin="$SECURESTACK_BIN_DIR"
  for c in "${components[@]}"; do
    [ -x "$bin/$c" ] || { log "ERROR: $bin/$c is missing (SECURESTACK_BIN_DIR)"; exit 1; }
  done
else
  # build.sh owns the cache layout; it returns at once when everything is built.
  bin="$(bash "$here/build.sh" | tail -n 1)"
fi
command -v kubectl >/dev/null || { log "ERROR: kubectl is required on PATH"; exit 1; }

for p in "$etcd_port" "$etcd_peer_port" "$api_port" "$kcm_port" "$sched_port" "$kwok_port" "$registry_port" "$auth_registry_port" "$trivy_port" "$redis_port"; do
  port_free "$p" || { log "ERROR: port 127.0.0.1:$p is in use; stop whatever holds it or override the SECURESTACK_*_PORT variables"; exit 1; }
done

started=$SECONDS
mkdir -p "$logs" "$pids"
rm -rf "$run/etcd"
# From here on, a failure stops whatever was started, so no half plane is left behind.
cleanup_on_failure() {
  local rc=$?
  if [ "$rc" != 0 ]; then
    log "start failed; stopping what was started (logs kept in $logs)"
    SECURESTACK_STOP_LOCKED=1 bash "$here/stop.sh" >&2 || true
  fi
}
trap cleanup_on_failure EXIT

gen_pki
rm -f "$kubeconfig"
for who in kube-controller-manager kube-scheduler kwok; do write_kubeconfig "$run/$who.kubeconfig" "$who"; done

log "starting etcd $ETCD_VERSION on 127.0.0.1:$etcd_port"
start_etcd
log "starting kube-apiserver $KUBE_VERSION on https://127.0.0.1:$api_port"
start_apiserver
log "starting kube-controller-manager, kube-scheduler, kwok $KWOK_VERSION"
write_kubeconfig "$kubeconfig.partial" admin
mv "$kubeconfig.partial" "$kubeconfig"
start_controllers
create_nodes
log "starting OCI registries on http://127.0.0.1:$registry_port (anonymous) and http://127.0.0.1:$auth_registry_port (basic auth)"
start_registries
log "starting trivy server $TRIVY_VERSION on http://127.0.0.1:$trivy_port (vulnerability DB fixture)"
start_trivy_server
log "starting redis on 127.0.0.1:$redis_port (shared scan cache)"
start_redis
if nodeplayer_wanted; then
  log "starting the node player for pods labelled securestack.io/component=scanner or =operator"
  write_nodeplayer_images "$bin"
  start_nodeplayer
fi

trap - EXIT
log "control plane ready in $((SECONDS - started))s (kubeconfig $kubeconfig, logs in $logs)"
echo "$kubeconfig"
