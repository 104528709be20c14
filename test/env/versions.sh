# Pinned versions of the test control plane and test tools. Sourced by build.sh and start.sh.
# Changing a version here makes build.sh rebuild into a fresh folder.
KUBE_VERSION=v1.36.1
ETCD_VERSION=v3.6.8
KWOK_VERSION=v0.8.0
HELM_VERSION=v3.19.0
# crane builds and pushes the fixture images (test/env/images.sh); built by build.sh into the same
# bin dir, on its own (a new crane version does not rebuild the control plane).
CRANE_VERSION=v0.22.1
# trivy scans the fixture images (test/trivy.test.ts, the Trivy server of start.sh); built by build.sh
# into the same bin dir on its own, like crane. Its vulnerability DB fixture (test/env/trivydb) pins
# the trivy-db version this Trivy requires.
TRIVY_VERSION=v0.74.0
