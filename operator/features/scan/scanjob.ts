/**
 * The scanner Job for one ImageScan, as a pure function of its inputs so it can be tested
 * without a cluster and so a re-run after a restart produces the same Job name (the API then
 * answers AlreadyExists instead of a second Job starting).
 *
 * Two steps in one pod: the scanner (Trivy) as an init container writes the CycloneDX report to a
 * shared emptyDir; the uploader (the operator image) sends it to the controller over HTTPS with
 * an audience-bound projected ServiceAccount token. Both meet Pod Security "restricted":
 * non-root, no privilege escalation, every capability dropped, read-only root filesystem,
 * RuntimeDefault seccomp; they write only to emptyDirs.
 */
import { createHash } from 'node:crypto';
import type { V1EnvVar, V1Job, V1SecurityContext, V1Volume, V1VolumeMount } from '@kubernetes/client-node';

export const managedByLabel = 'app.kubernetes.io/managed-by';
export const managedByValue = 'securestack';
export const componentLabel = 'securestack.io/component';
export const scannerComponent = 'scanner';
export const imageScanLabel = 'securestack.io/imagescan';
export const imageScanUidLabel = 'securestack.io/imagescan-uid';
/** Label values stop at 63 characters: the first 63 hex digits of the sha256 identify the image. */
export const digestLabel = 'securestack.io/digest';
export const digestAnnotation = 'securestack.io/digest';

/** Audience of the projected token the uploader presents; the report server accepts no other. */
export const reportTokenAudience = 'securestack-report';
export const reportFile = '/report/report.cdx.json';
const tokenDir = '/var/run/secrets/securestack';
const dockerConfigDir = '/docker-config';

export function digestLabelValue(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 63);
}

export interface ScannerSettings {
  image: string;
  /** Trivy server URL: the Job then downloads no vulnerability DB of its own. */
  serverURL?: string;
  /** Where the Job downloads the DB from when there is no server. */
  dbRepository?: string;
  /** The registry speaks plain HTTP (a loopback or in-cluster registry). */
  insecureRegistry: boolean;
  ignoreUnfixed: boolean;
  severities: readonly string[];
}

export interface UploadSettings {
  /** Image that carries the uploader: the operator's own image. */
  image: string;
  /** Base URL of the controller's report endpoint, e.g. https://securestack-reports.securestack-system.svc:9444 */
  baseURL: string;
  /** The endpoint's trust bundle: every CA the uploader must trust (PEM, one or more). */
  caPem: string;
}

export interface ScanJobInput {
  scanName: string;
  scanUid: string;
  namespace: string;
  /** The digest-pinned reference to scan (repo@sha256:...), so the Job scans what was resolved. */
  image: string;
  digest: string;
  scanner: ScannerSettings;
  upload: UploadSettings;
  /** A kubernetes.io/dockerconfigjson Secret in the namespace, for private registries. */
  pullSecret?: string;
  serviceAccountName: string;
  /** Hard limit for the whole Job (activeDeadlineSeconds). */
  timeoutSeconds: number;
  /** How long the finished Job stays for inspection. */
  ttlSecondsAfterFinished: number;
  /** Retry number, part of the name so a retry never collides with the failed Job. */
  attempt: number;
  /** When this round of scanning started (a rescan starts a new round), also part of the name. */
  round: string;
}

/** UID of the nobody-like user the scanner runs as; matches the operator image. */
const scannerUid = 65532;

/** A DNS-1123 name under 63 characters that is stable for one ImageScan, round and attempt. */
export function scanJobName(scanName: string, scanUid: string, attempt: number, round: string): string {
  const suffix = createHash('sha256').update(`${scanUid}/${round}/${attempt}`).digest('hex').slice(0, 8);
  const stem = scanName.slice(0, 63 - 'scan--'.length - suffix.length).replace(/[-.]+$/, '');
  return `scan-${stem}-${suffix}`;
}

const restrictedContainer: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

function trivyArgs(input: ScanJobInput): string[] {
  const { scanner } = input;
  return [
    'image',
    '--quiet',
    '--format', 'cyclonedx',
    '--scanners', 'vuln',
    '--output', reportFile,
    '--timeout', `${Math.max(input.timeoutSeconds - 30, 30)}s`,
    ...(scanner.severities.length > 0 ? ['--severity', scanner.severities.join(',')] : []),
    ...(scanner.ignoreUnfixed ? ['--ignore-unfixed'] : []),
    ...(scanner.serverURL ? ['--server', scanner.serverURL] : []),
    ...(!scanner.serverURL && scanner.dbRepository ? ['--db-repository', scanner.dbRepository] : []),
    ...(scanner.insecureRegistry ? ['--insecure'] : []),
    input.image,
  ];
}

function uploadURL(input: ScanJobInput): string {
  return `${input.upload.baseURL.replace(/\/+$/, '')}/v1/reports/${encodeURIComponent(input.namespace)}/${encodeURIComponent(input.scanName)}`;
}

export function buildScanJob(input: ScanJobInput): V1Job {
  const name = scanJobName(input.scanName, input.scanUid, input.attempt, input.round);
  const labels = {
    [managedByLabel]: managedByValue,
    [componentLabel]: scannerComponent,
    [imageScanLabel]: input.scanName.slice(0, 63),
    [imageScanUidLabel]: input.scanUid,
    [digestLabel]: digestLabelValue(input.digest),
  };
  const volumes: V1Volume[] = [
    { name: 'report', emptyDir: { sizeLimit: '512Mi' } },
    { name: 'tmp', emptyDir: { sizeLimit: '4Gi' } },
    {
      name: 'upload-token',
      projected: { sources: [{ serviceAccountToken: { audience: reportTokenAudience, expirationSeconds: 3600, path: 'token' } }] },
    },
  ];
  const scannerMounts: V1VolumeMount[] = [
    { name: 'report', mountPath: '/report' },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  const scannerEnv: V1EnvVar[] = [
    { name: 'TRIVY_CACHE_DIR', value: '/tmp/trivy-cache' },
    { name: 'HOME', value: '/tmp' },
  ];
  if (input.pullSecret) {
    volumes.push({ name: 'docker-config', secret: { secretName: input.pullSecret, items: [{ key: '.dockerconfigjson', path: 'config.json' }] } });
    scannerMounts.push({ name: 'docker-config', mountPath: dockerConfigDir, readOnly: true });
    scannerEnv.push({ name: 'DOCKER_CONFIG', value: dockerConfigDir });
  }
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: input.namespace,
      labels,
      annotations: { 'securestack.io/image': input.image, [digestAnnotation]: input.digest, 'securestack.io/attempt': String(input.attempt) },
      ownerReferences: [
        { apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', name: input.scanName, uid: input.scanUid, controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: {
      // SecureStack retries with its own backoff and records each attempt in status.
      backoffLimit: 0,
      activeDeadlineSeconds: input.timeoutSeconds,
      ttlSecondsAfterFinished: input.ttlSecondsAfterFinished,
      template: {
        metadata: { labels, annotations: { [digestAnnotation]: input.digest } },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: input.serviceAccountName,
          // Only the audience-bound upload token is mounted, not the API token.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: scannerUid,
            runAsGroup: scannerUid,
            fsGroup: scannerUid,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          initContainers: [
            {
              name: 'scanner',
              image: input.scanner.image,
              imagePullPolicy: 'IfNotPresent',
              args: trivyArgs(input),
              env: scannerEnv,
              resources: {
                requests: { cpu: '100m', memory: '256Mi', 'ephemeral-storage': '512Mi' },
                limits: { cpu: '1', memory: '1Gi', 'ephemeral-storage': '4Gi' },
              },
              securityContext: restrictedContainer,
              volumeMounts: scannerMounts,
            },
          ],
          containers: [
            {
              name: 'uploader',
              image: input.upload.image,
              imagePullPolicy: 'IfNotPresent',
              command: ['node', 'dist/operator/uploader.js'],
              workingDir: '/app',
              env: [
                { name: 'SECURESTACK_REPORT_FILE', value: reportFile },
                { name: 'SECURESTACK_UPLOAD_URL', value: uploadURL(input) },
                { name: 'SECURESTACK_UPLOAD_TOKEN_FILE', value: `${tokenDir}/token` },
                { name: 'SECURESTACK_UPLOAD_CA', value: input.upload.caPem },
              ],
              resources: {
                requests: { cpu: '50m', memory: '64Mi', 'ephemeral-storage': '16Mi' },
                limits: { cpu: '500m', memory: '256Mi', 'ephemeral-storage': '64Mi' },
              },
              securityContext: restrictedContainer,
              volumeMounts: [
                { name: 'report', mountPath: '/report', readOnly: true },
                { name: 'upload-token', mountPath: tokenDir, readOnly: true },
              ],
            },
          ],
          volumes,
        },
      },
    },
  };
}
