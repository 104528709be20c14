// bench/workload-index: memory the workload scanner's pod index keeps for 10,000 running pods.
//
//   npx tsc -p tsconfig.json && node --expose-gc dist/bench/workload-index.js
//
// The pods are built as the watch delivers them (full objects with status), handed to the index,
// and dropped; what stays is the index's own share, measured as heap growth after a full GC.
import type { V1Pod } from '@kubernetes/client-node';
import { WorkloadIndex } from '../operator/features/scan/workloads';

const pods = 10_000;
const namespaces = 200;
const images = 500;

function pod(i: number): V1Pod {
  const image = `registry.example.com/team-${i % 50}/service-${i % images}:1.${i % 7}.0`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `service-${i % images}-7d9f8c6b5-${i.toString(36).padStart(5, '0')}`,
      namespace: `ns-${i % namespaces}`,
      uid: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
      labels: { app: `service-${i % images}`, 'pod-template-hash': '7d9f8c6b5', tier: i % 2 ? 'web' : 'worker' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-01T00:00:00Z', 'checksum/config': 'a'.repeat(64) },
    },
    spec: {
      containers: [
        { name: 'app', image, env: Array.from({ length: 10 }, (_, e) => ({ name: `VAR_${e}`, value: 'x'.repeat(40) })), resources: { requests: { cpu: '100m', memory: '128Mi' } } },
        { name: 'sidecar', image: 'registry.example.com/platform/proxy:2.3.1' },
      ],
    },
    status: {
      phase: 'Running',
      podIP: `10.0.${i >> 8}.${i & 255}`,
      containerStatuses: [
        { name: 'app', image, imageID: `${image.split(':')[0]}@sha256:${(i % images).toString(16).padStart(64, '0')}`, ready: true, restartCount: 0 },
        { name: 'sidecar', image: 'registry.example.com/platform/proxy:2.3.1', imageID: `registry.example.com/platform/proxy@sha256:${'b'.repeat(64)}`, ready: true, restartCount: 0 },
      ],
    },
  };
}

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const before = heapAfterGc();
const index = new WorkloadIndex({ includeNamespaces: [], excludeNamespaces: ['kube-system'], podSelector: [] });
let podBytes = 0;
for (let i = 0; i < pods; i++) {
  const object = pod(i);
  if (i < 100) podBytes += Buffer.byteLength(JSON.stringify(object));
  index.observe(object, false);
}
const after = heapAfterGc();
const indexed = index.size;
const perPod = (after - before) / indexed;
process.stdout.write(
  `${indexed} pods indexed in ${namespaces} namespaces: index heap ${((after - before) / 1048576).toFixed(1)} MiB, ` +
    `${Math.round(perPod)} bytes per pod (a watched pod object is about ${Math.round(podBytes / 100)} bytes of JSON)\n`,
);
