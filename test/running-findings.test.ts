// securestack_running_image_vulnerabilities: findings of the images running pods use, per
// namespace, severity and fixable, from the workload index and the ImageScan cache; and the
// counters that start at 0 (zeroSeries) so the first failure is an increase.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { Counter, Registry } from 'prom-client';
import { apiVersion, type ImageScan, type VulnerabilitySummary } from '../operator/api/types.generated';
import { sourceLabel, workloadSource } from '../operator/api/own-scans';
import { WorkloadIndex } from '../operator/features/scan/workloads';
import { runningFindingsGauge, runningImageFindings, type RunningFinding } from '../operator/features/scan/running-findings';
import { zeroSeries } from '../operator/platform/runtime/metrics';

function pod(namespace: string, name: string, image: string, phase = 'Running'): V1Pod {
  return { metadata: { namespace, name }, spec: { containers: [{ name: 'c', image }] }, status: { phase } };
}

function scan(namespace: string, name: string, image: string, summary: VulnerabilitySummary | undefined, options: { own?: boolean; phase?: string } = {}): ImageScan {
  return {
    apiVersion,
    kind: 'ImageScan',
    metadata: { namespace, name, ...(options.own ? { labels: { [sourceLabel]: workloadSource } } : {}) },
    spec: { image },
    ...(summary ? { status: { phase: options.phase ?? 'Completed', summary } } : {}),
  } as ImageScan;
}

const appSummary: VulnerabilitySummary = { critical: 2, high: 3, medium: 0, low: 1, unknown: 0, fixable: 3, fixableBySeverity: { critical: 1, high: 2 } };

/** The findings as "namespace severity fixable=count" lines, zero counts left out, sorted. */
function lines(found: RunningFinding[]): string[] {
  return found.filter((f) => f.count > 0).map((f) => `${f.namespace} ${f.severity} fixable=${f.fixable}: ${f.count}`).sort();
}

describe('findings in running images', () => {
  it('sums Completed results per namespace, once per distinct image, split by fixable', () => {
    const index = new WorkloadIndex({ includeNamespaces: [], excludeNamespaces: [], podSelector: [] });
    // Two pods run the same image: it counts once.
    index.observe(pod('a', 'web-1', 'reg.example/app:1'), false);
    index.observe(pod('a', 'web-2', 'reg.example/app:1'), false);
    index.observe(pod('b', 'api-1', 'reg.example/app:1'), false);
    index.observe(pod('b', 'job-1', 'reg.example/old:1'), false);
    const scans: Record<string, ImageScan[]> = {
      a: [scan('a', 'app', 'reg.example/app:1', appSummary, { own: true }), scan('a', 'unused', 'reg.example/unused:1', { critical: 9, fixableBySeverity: { critical: 9 } })],
      // Stored before per-severity fixable counts existed: nothing counts as fixable.
      b: [scan('b', 'app', 'reg.example/app:1', appSummary), scan('b', 'old', 'reg.example/old:1', { critical: 1, fixable: 1 })],
    };
    assert.deepEqual(lines(runningImageFindings(index, (ns) => scans[ns] ?? [])), [
      'a critical fixable=false: 1', 'a critical fixable=true: 1', 'a high fixable=false: 1', 'a high fixable=true: 2', 'a low fixable=false: 1',
      'b critical fixable=false: 2', 'b critical fixable=true: 1', 'b high fixable=false: 1', 'b high fixable=true: 2', 'b low fixable=false: 1',
    ]);
  });

  it('prefers SecureStack\'s own ImageScan of an image and ignores scans not Completed', () => {
    const index = new WorkloadIndex({ includeNamespaces: [], excludeNamespaces: [], podSelector: [] });
    index.observe(pod('a', 'web-1', 'reg.example/app:1'), false);
    const users = scan('a', 'mine', 'reg.example/app:1', { critical: 5, fixableBySeverity: { critical: 5 } });
    const own = scan('a', 'own', 'reg.example/app:1', { critical: 1, fixableBySeverity: { critical: 1 } }, { own: true });
    assert.deepEqual(lines(runningImageFindings(index, () => [users, own])), ['a critical fixable=true: 1']);
    const failed = scan('a', 'own', 'reg.example/app:1', { critical: 1, fixableBySeverity: { critical: 1 } }, { own: true, phase: 'Failed' });
    assert.deepEqual(lines(runningImageFindings(index, () => [failed])), []);
  });

  it('a pod that ends takes its namespace out of the gauge at the next scrape', async () => {
    const index = new WorkloadIndex({ includeNamespaces: [], excludeNamespaces: [], podSelector: [] });
    index.observe(pod('a', 'web-1', 'reg.example/app:1'), false);
    const registry = new Registry();
    runningFindingsGauge(registry, () => runningImageFindings(index, () => [scan('a', 'app', 'reg.example/app:1', appSummary, { own: true })]));
    assert.match(await registry.metrics(), /^securestack_running_image_vulnerabilities\{namespace="a",severity="critical",fixable="true"\} 1$/m);
    index.observe(pod('a', 'web-1', 'reg.example/app:1', 'Succeeded'), false);
    assert.doesNotMatch(await registry.metrics(), /securestack_running_image_vulnerabilities\{/);
  });

  it('zeroSeries creates each series at 0 and leaves counts already there alone', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'x_total', help: 'x', labelNames: ['result'], registers: [registry] });
    counter.inc({ result: 'failed' }, 2);
    zeroSeries(counter, [{ result: 'failed' }, { result: 'ok' }]);
    const text = await registry.metrics();
    assert.match(text, /^x_total\{result="ok"\} 0$/m);
    assert.match(text, /^x_total\{result="failed"\} 2$/m);
  });
});
