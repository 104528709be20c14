/**
 * The scanner Job for one ImageScan, as a pure function of its inputs so it can be tested
 * without a cluster and so a re-run after a restart produces the same Job name (the API then
 * answers AlreadyExists instead of a second Job starting).
 *
 * The pod meets Pod Security "restricted": non-root, no privilege escalation, every capability
 * dropped, read-only root filesystem, RuntimeDefault seccomp. Trivy writes its cache and report
 * under /tmp, an emptyDir.
 */
import { createHash } from 'node:crypto';
import type { V1Job } from '@kubernetes/client-node';

export const managedByLabel = 'app.kubernetes.io/managed-by';
export const managedByValue = 'securestack';
export const imageScanLabel = 'securestack.io/imagescan';
export const imageScanUidLabel = 'securestack.io/imagescan-uid';

export interface ScanJobInput {
  scanName: string;
  scanUid: string;
  namespace: string;
  /** The image reference to scan. */
  image: string;
  scannerImage: string;
  pullSecrets: readonly string[];
  /** Hard limit for the whole Job (activeDeadlineSeconds). */
  timeoutSeconds: number;
  /** How long the finished Job stays for inspection. */
  ttlSecondsAfterFinished: number;
  /** Retry number, part of the name so a retry never collides with the failed Job. */
  attempt: number;
}

/** UID of the nobody-like user the scanner runs as; matches the operator image. */
const scannerUid = 65532;

/** A DNS-1123 name under 63 characters that is stable for one ImageScan and attempt. */
export function scanJobName(scanName: string, scanUid: string, attempt: number): string {
  const suffix = createHash('sha256').update(`${scanUid}/${attempt}`).digest('hex').slice(0, 8);
  const stem = scanName.slice(0, 63 - 'scan--'.length - suffix.length).replace(/[-.]+$/, '');
  return `scan-${stem}-${suffix}`;
}

export function buildScanJob(input: ScanJobInput): V1Job {
  const name = scanJobName(input.scanName, input.scanUid, input.attempt);
  const labels = {
    [managedByLabel]: managedByValue,
    [imageScanLabel]: input.scanName.slice(0, 63),
    [imageScanUidLabel]: input.scanUid,
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: input.namespace,
      labels,
      annotations: { 'securestack.io/image': input.image, 'securestack.io/attempt': String(input.attempt) },
      ownerReferences: [
        {
          apiVersion: 'securestack.io/v1alpha1',
          kind: 'ImageScan',
          name: input.scanName,
          uid: input.scanUid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      // SecureStack retries with its own backoff and records each attempt in status.
      backoffLimit: 0,
      activeDeadlineSeconds: input.timeoutSeconds,
      ttlSecondsAfterFinished: input.ttlSecondsAfterFinished,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          imagePullSecrets: input.pullSecrets.map((secret) => ({ name: secret })),
          securityContext: {
            runAsNonRoot: true,
            runAsUser: scannerUid,
            runAsGroup: scannerUid,
            fsGroup: scannerUid,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'scanner',
              image: input.scannerImage,
              imagePullPolicy: 'IfNotPresent',
              args: ['image', '--quiet', '--format', 'cyclonedx', '--scanners', 'vuln', '--output', '/tmp/report.cdx.json', input.image],
              env: [
                { name: 'TRIVY_CACHE_DIR', value: '/tmp/trivy-cache' },
                { name: 'HOME', value: '/tmp' },
              ],
              resources: {
                requests: { cpu: '100m', memory: '256Mi', 'ephemeral-storage': '512Mi' },
                limits: { cpu: '1', memory: '1Gi', 'ephemeral-storage': '2Gi' },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                privileged: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '2Gi' } }],
        },
      },
    },
  };
}
