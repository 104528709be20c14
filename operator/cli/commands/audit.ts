/**
 * `securestack audit`: manifests judged against ScanPolicies as the admission webhook would judge
 * them, with its engine, rule ids and words (operator/cli/audit.ts does the judging).
 */
import { auditObject, fails, loadPolicies, parseFailOn, type AuditResult, type AuditWarning } from '../audit';
import type { ImageLookup } from '../../engine/evaluate';
import type { RawObject } from '../../platform/kube/informer';
import { clusterFlags, exitCodes, UsageError, type Command, type Parsed } from '../command';
import { isProblem, readObjects, type ParseProblem, type SourcedObject } from '../documents';
import { renderJson, renderTable } from '../format';
import { renderSarif } from '../sarif';
import { renderCsv, renderJunit, type CheckedObject } from '../tabular';
import { version } from '../version';

const outputs = ['table', 'json', 'sarif', 'junit', 'csv'] as const;
type Output = (typeof outputs)[number];

interface Collected {
  /** Every object judged (for JUnit, a test case each). */
  checked: CheckedObject[];
  results: AuditResult[];
  warnings: AuditWarning[];
  problems: ParseProblem[];
  objects: number;
}

async function collect(args: readonly string[]): Promise<{ objects: SourcedObject[]; problems: ParseProblem[] }> {
  const objects: SourcedObject[] = [];
  const problems: ParseProblem[] = [];
  for await (const item of readObjects(args)) {
    if (isProblem(item)) problems.push(item);
    else objects.push(item);
  }
  return { objects, problems };
}

function labelFlag(value: string, labels: Map<string, Record<string, string>>): void {
  const match = /^([^:]+):([^=]+)=(.*)$/.exec(value);
  if (!match) throw new UsageError(`--namespace-label ${value}: expected NAMESPACE:KEY=VALUE`);
  const [, namespace = '', key = '', labelValue = ''] = match;
  labels.set(namespace, { ...labels.get(namespace), [key]: labelValue });
}

interface ClusterState {
  policies: SourcedObject[];
  namespaces: Map<string, Record<string, string>>;
  /** What the cluster's ImageScans say about images, for the vulnerability gate. */
  images: ImageLookup;
}

/** ScanPolicies, Namespace labels and ImageScans from the current kube context (--cluster): what the webhook reads. */
async function fromCluster(parsed: Parsed): Promise<ClusterState> {
  const [{ clusterClient }, { imageScanType, scanPolicyType }, { ImageFactsIndex }] = await Promise.all([
    import('../cluster'),
    import('../../api/resources'),
    import('../../features/admission/image-facts'),
  ]);
  const client = clusterClient(parsed);
  const where = `the cluster (${client.access.source})`;
  const [policies, namespaces, scans] = await Promise.all([
    client.listCustom<SourcedObject['object']>(scanPolicyType),
    client.listCollection<{ metadata?: { name?: string; labels?: Record<string, string> } }>('/api/v1/namespaces'),
    client.listCustom<RawObject>(imageScanType),
  ]).catch((err: unknown) => {
    throw new Error(`reading ScanPolicies, Namespaces and ImageScans from ${where}: ${err instanceof Error ? err.message : String(err)}`);
  });
  const index = ImageFactsIndex.of(scans);
  return {
    policies: policies.map((object) => ({ object: { ...object, apiVersion: 'securestack.io/v1alpha1', kind: 'ScanPolicy' }, source: `scanpolicy/${object.metadata?.name ?? ''} in ${where}`, line: 1 })),
    namespaces: new Map(namespaces.items.flatMap((ns) => (ns.metadata?.name ? [[ns.metadata.name, ns.metadata.labels ?? {}] as const] : []))),
    images: (image) => index.lookup(image),
  };
}

async function run(parsed: Parsed): Promise<number> {
  const policyArgs = parsed.strings('policy');
  const useCluster = parsed.flag('cluster');
  if (policyArgs.length === 0 && !useCluster) throw new UsageError('name the policies: --policy FILE|DIR, or --cluster for the current kube context\'s');
  if (parsed.positionals.length === 0) throw new UsageError('name the manifests: files, folders, or - for stdin');
  const output = parsed.string('output') as Output;
  const failOn = parseFailOn(parsed.string('fail-on'));

  const policyInput = await collect(policyArgs);
  const loaded = loadPolicies(policyInput.objects);
  const policyErrors = [...policyInput.problems.map((p) => `${p.source}:${p.line}: ${p.problem}`), ...loaded.errors];
  if (policyErrors.length > 0) {
    process.stderr.write(`securestack: the policies cannot be used:\n${policyErrors.map((e) => `  ${e}`).join('\n')}\n`);
    return exitCodes.usage;
  }
  const cluster = useCluster ? await fromCluster(parsed) : undefined;
  if (cluster) {
    // A cluster's ScanPolicy that does not compile is not Ready, and the webhook does not apply it:
    // neither does the audit, which says so instead of failing the run.
    const fromContext = loadPolicies(cluster.policies);
    for (const error of fromContext.errors) process.stderr.write(`securestack: warning: skipped, as the webhook skips it: ${error}\n`);
    loaded.policies.push(...fromContext.policies);
  }
  if (loaded.policies.length === 0) process.stderr.write('securestack: warning: no ScanPolicy found; nothing can fail\n');
  // Labels given on the command line win over files, which win over the cluster's.
  const namespaceLabels = new Map<string, Record<string, string>>(cluster?.namespaces ?? []);
  for (const file of parsed.strings('namespace-labels')) {
    for (const { object } of (await collect([file])).objects) {
      if (object.kind === 'Namespace' && object.metadata?.name) namespaceLabels.set(object.metadata.name, object.metadata.labels ?? {});
    }
  }
  for (const flag of parsed.strings('namespace-label')) labelFlag(flag, namespaceLabels);
  const givenLabels = new Set(namespaceLabels.keys());

  const defaultNamespace = parsed.string('namespace');
  const collected: Collected = { checked: [], results: [], warnings: [], problems: [], objects: 0 };
  const now = Date.now();
  for await (const item of readObjects(parsed.positionals)) {
    if (isProblem(item)) {
      collected.problems.push(item);
      continue;
    }
    collected.objects++;
    if (output === 'junit') {
      const { kind = '', metadata } = item.object;
      collected.checked.push({ source: item.source, line: item.line, kind, namespace: metadata?.namespace || (item.object.kind === 'Namespace' ? undefined : defaultNamespace), name: metadata?.name || metadata?.generateName || '' });
    }
    // A Namespace among the inputs gives its labels to the objects after it, unless given explicitly.
    const name = item.object.metadata?.name;
    if (item.object.kind === 'Namespace' && name && !givenLabels.has(name)) namespaceLabels.set(name, item.object.metadata?.labels ?? {});
    const judged = auditObject(item, { policies: loaded.policies, defaultNamespace, namespaceLabels, now, ...(cluster ? { images: cluster.images } : {}) });
    collected.results.push(...judged.results);
    collected.warnings.push(...judged.warnings);
  }
  const failing = collected.results.filter((result) => fails(result, failOn));
  const colour = !parsed.flag('no-color') && process.stdout.isTTY === true && !process.env.NO_COLOR;
  const rendered: Record<Output, () => string> = {
    table: () => renderTable(collected, failing.length, colour),
    json: () => renderJson(collected, failing.length),
    sarif: () => renderSarif(collected.results, version()),
    junit: () => renderJunit(collected.checked, collected.results, (result) => fails(result, failOn)),
    csv: () => renderCsv(collected.results),
  };
  process.stdout.write(rendered[output]());
  for (const problem of collected.problems) process.stderr.write(`securestack: ${problem.source}:${problem.line}: ${problem.problem}\n`);
  if (collected.problems.length > 0) return exitCodes.usage;
  return failing.length > 0 ? exitCodes.violations : exitCodes.clean;
}

export const auditCommand: Command = {
  name: 'audit',
  summary: 'Check manifests against ScanPolicies, as the admission webhook would',
  description: `Check Kubernetes manifests against ScanPolicies, as the admission webhook would.

 The webhook's own engine judges each object as a CREATE: the same rule ids, messages and fixes. A
manifest the webhook would deny in Enforce fails here, Warn warns, Audit records. Pod controllers
are judged by their pod templates. Inputs are files, folders (every .yaml, .yml and .json below),
or - for stdin: multi-document YAML, JSON and List objects, read one document at a time.

 Exit codes: 0 nothing at or above --fail-on, 1 violations at or above --fail-on, 2 usage or input
errors (a document that does not parse is named with its file and line).`,
  usage: 'securestack audit (-p POLICY... | --cluster) [options] (FILE | DIR | -)...',
  examples: [
    ['Fail a pull request on what the webhook would deny', 'securestack audit -p policies/ manifests/'],
    ["A Helm chart's output, as SARIF for code scanning", 'helm template my-release ./chart | securestack audit -p policies/ -o sarif - > securestack.sarif'],
    ["Judge a kustomization with the cluster's own ScanPolicies and Namespace labels", 'kubectl kustomize overlays/prod | securestack audit --cluster -'],
    ['Fail on anything HIGH or worse, whatever the policy\'s mode', 'securestack audit -p policies/ --fail-on high manifests/'],
  ],
  flags: [
    { long: 'policy', short: 'p', type: 'string', multiple: true, files: true, help: 'ScanPolicy manifests, files or folders (repeatable). Each is checked against the CRD schema,\ndefaulted and compiled as the operator does.' },
    { long: 'cluster', type: 'boolean', default: false, help: "Also use the ScanPolicies of the current kube context, its Namespaces' labels, and what its\nImageScans say for vulnerability gates." },
    ...clusterFlags,
    { long: 'output', short: 'o', type: 'string', default: 'table', choices: outputs, help: 'Output format: a table, JSON, SARIF 2.1.0 (code scanning), JUnit XML (a test case per object) or CSV.' },
    { long: 'fail-on', type: 'string', default: 'enforce', choices: ['enforce', 'warn', 'audit', 'critical', 'high', 'medium', 'low'], help: 'What fails the run: a policy mode and the stricter ones, or a severity and the higher ones.' },
    { long: 'namespace', short: 'n', type: 'string', default: 'default', help: 'The namespace of objects that name none.' },
    { long: 'namespace-labels', type: 'string', multiple: true, files: true, help: "Namespace manifests whose labels namespaceSelectors read (repeatable). Namespace objects among\nthe inputs count too, for the objects after them." },
    { long: 'namespace-label', type: 'string', multiple: true, help: 'One label of one namespace, as NAMESPACE:KEY=VALUE (repeatable).' },
    { long: 'no-color', type: 'boolean', default: false, help: 'No colour in the table (also NO_COLOR=1, or when the output is not a terminal).' },
  ],
  completeArgs: 'files',
  run,
};
