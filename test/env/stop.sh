#!/usr/bin/env bash
# Stops the test control plane started by start.sh and deletes its etcd data, so the next start
# is a fresh cluster. Certificates (pki/) and logs (logs/) are kept.
#
# Only processes recorded in <run dir>/pids whose command line mentions the run dir are signalled:
# a stale pid file whose pid now belongs to something else is ignored, never killed.
# Order: kwok and the controllers first, then the apiserver, etcd last, each with SIGTERM and,
# after SECURESTACK_STOP_GRACE seconds (default 5), SIGKILL.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
run="${SECURESTACK_RUN_DIR:-$root/.testenv/run}"
pids="$run/pids"
grace="${SECURESTACK_STOP_GRACE:-5}"

log() { echo "stop.sh: $*" >&2; }

[ -d "$run" ] || { log "nothing to stop ($run does not exist)"; exit 0; }

# start.sh holds the lock while it runs and calls us with SECURESTACK_STOP_LOCKED=1.
if [ "${SECURESTACK_STOP_LOCKED:-}" != 1 ]; then
  exec 9>"$run/.lock"
  flock -w 60 9 || log "warning: $run/.lock is held (is start.sh running?); stopping anyway"
fi

ours() { # pid: alive and started for this run dir
  [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$run"
}

stop_one() {
  local name=$1 f="$pids/$1.pid" pid
  [ -s "$f" ] || { rm -f "$f"; return 0; }
  pid="$(cat "$f")"
  if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! ours "$pid"; then
    rm -f "$f"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + grace))
  while ours "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  if ours "$pid"; then
    log "$name (pid $pid) ignored SIGTERM for ${grace}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while ours "$pid"; do sleep 0.1; done
  fi
  rm -f "$f"
  log "stopped $name (pid $pid)"
}

# The node player first, while the API server is up: it stops its pods' processes and marks
# those pods Failed (NodeShutdown).
stop_one nodeplayer
# These can go together: none needs another to exit cleanly (the registries need nothing at all).
for c in kwok kube-scheduler kube-controller-manager registry auth-registry trivy-server redis; do stop_one "$c" & done
wait
stop_one kube-apiserver
stop_one etcd

rm -rf "$run/etcd" "$run/kubeconfig" "$run"/*.kubeconfig
# The OCI registries' storage and what start.sh/images.sh wrote about them (fresh on next start).
rm -rf "$run/registry/registry/data" "$run/registry/auth-registry/data" \
  "$run/registry-url" "$run/auth-registry-url" "$run/auth-registry-dockerconfig.json" "$run/images.json"
# The Trivy server's cache (a copy of the DB fixture and scan results; start.sh copies it afresh).
rm -rf "$run/trivy/cache" "$run/trivy-server-url" "$run/redis" "$run/redis-url"
log "control plane stopped (logs kept in $run/logs)"
