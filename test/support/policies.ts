/**
 * Builders for the pure policy-engine and admission-handler tests: ScanPolicies, compiled
 * policies, ImageScans and the Kubernetes objects they judge, all as plain JSON.
 */
import assert from 'node:assert/strict';
import type { ImageScan, ImageScanStatus, ScanPolicy, ScanPolicySpec } from '../../operator/api/types.generated';
import { compilePolicy, type CompiledPolicy } from '../../operator/engine/compile';
import type { KubeObject } from '../../operator/engine/types';

/** A fixed clock: every test passes `now` explicitly, nothing sleeps. */
export const now = Date.parse('2025-06-01T12:00:00Z');
export const dayMs = 24 * 60 * 60 * 1000;
export const iso = (ms: number): string => new Date(ms).toISOString();

export function scanPolicy(name: string, spec: ScanPolicySpec, generation = 1): ScanPolicy {
  return {
    apiVersion: 'securestack.io/v1alpha1',
    kind: 'ScanPolicy',
    metadata: { name, uid: `uid-${name}`, generation },
    spec,
  };
}

/** Compiles a policy that must compile; the assertion message carries the compiler's errors. */
export function compiled(name: string, spec: ScanPolicySpec, generation = 1): CompiledPolicy {
  const result = compilePolicy(scanPolicy(name, spec, generation));
  assert.ok(result.ok, `policy ${name} should compile: ${result.ok ? '' : result.errors.join('; ')}`);
  return result.policy;
}

/** Errors of a policy that must not compile. */
export function compileErrors(spec: ScanPolicySpec): string[] {
  const result = compilePolicy(scanPolicy('broken', spec));
  assert.equal(result.ok, false, 'the policy should not compile');
  return result.ok ? [] : result.errors;
}

export type PodSpecJson = Record<string, unknown>;

export const privileged = (image = 'registry.example.com/app:1.0.0', name = 'app'): Record<string, unknown> => ({
  name,
  image,
  securityContext: { privileged: true },
});

export const plain = (image = 'registry.example.com/app:1.0.0', name = 'app'): Record<string, unknown> => ({ name, image });

export function podSpec(...containers: Record<string, unknown>[]): PodSpecJson {
  return { containers };
}

export function pod(name: string, namespace: string, spec: PodSpecJson, labels: Record<string, string> = { app: name }, extra: Partial<NonNullable<KubeObject['metadata']>> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels, ...extra }, spec };
}

const template = (labels: Record<string, string>, spec: PodSpecJson): Record<string, unknown> => ({ metadata: { labels }, spec });

export function deployment(name: string, namespace: string, spec: PodSpecJson, labels: Record<string, string> = { app: name }): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, uid: `uid-deploy-${name}`, labels },
    spec: { replicas: 2, selector: { matchLabels: labels }, template: template(labels, spec) },
  };
}

export function statefulSet(name: string, namespace: string, spec: PodSpecJson): KubeObject {
  return { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name, namespace }, spec: { serviceName: name, selector: { matchLabels: { app: name } }, template: template({ app: name }, spec) } };
}

export function daemonSet(name: string, namespace: string, spec: PodSpecJson): KubeObject {
  return { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name, namespace }, spec: { selector: { matchLabels: { app: name } }, template: template({ app: name }, spec) } };
}

export function replicaSet(name: string, namespace: string, spec: PodSpecJson, labels: Record<string, string> = { app: name }, extra: Partial<NonNullable<KubeObject['metadata']>> = {}): KubeObject {
  return { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name, namespace, labels, ...extra }, spec: { replicas: 1, selector: { matchLabels: labels }, template: template(labels, spec) } };
}

export function replicationController(name: string, namespace: string, spec: PodSpecJson): KubeObject {
  return { apiVersion: 'v1', kind: 'ReplicationController', metadata: { name, namespace }, spec: { replicas: 1, selector: { app: name }, template: template({ app: name }, spec) } };
}

export function job(name: string, namespace: string, spec: PodSpecJson): KubeObject {
  return { apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace }, spec: { backoffLimit: 1, template: template({ app: name }, { restartPolicy: 'Never', ...spec }) } };
}

export function cronJob(name: string, namespace: string, spec: PodSpecJson): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name, namespace },
    spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: template({ app: name }, { restartPolicy: 'OnFailure', ...spec }) } } },
  };
}

export function clusterRoleBinding(name: string, role: string, subjects: Record<string, unknown>[]): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects,
  };
}

export function namespaceObject(name: string, labels: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels }, spec: { finalizers: ['kubernetes'] } };
}

export function configMap(name: string, namespace: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { key: 'value' } };
}

export function imageScan(namespace: string, name: string, image: string, status?: ImageScanStatus): ImageScan {
  return {
    apiVersion: 'securestack.io/v1alpha1',
    kind: 'ImageScan',
    metadata: { namespace, name, uid: `uid-scan-${namespace}-${name}` },
    spec: { image },
    ...(status ? { status } : {}),
  };
}

export const digestA = `sha256:${'a'.repeat(64)}`;
export const digestB = `sha256:${'b'.repeat(64)}`;
