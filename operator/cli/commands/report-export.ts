/**
 * `securestack report export`: ImageScan findings and ComplianceReport results from the cluster
 * as CSV or JSON, all of them: findings from each ImageScan's stored SBOM (status keeps only the
 * top 20), results from each ComplianceReport's stored results document (status keeps examples).
 * Objects are listed page by page and rows are written as each object is read, so memory holds
 * one page and one stored document at a time, never the export.
 */
import type { ComplianceReport, ImageScan } from '../../api/types.generated';
import type { KubeClient } from '../../platform/kube/client';
import { clusterFlags, exitCodes, UsageError, type Command, type Parsed } from '../command';
import {
  complianceColumns,
  complianceRows,
  csvHeader,
  csvLine,
  errorLine,
  exportKinds,
  findingColumns,
  findingRows,
  frameworkSelected,
  jsonExport,
  objectSelected,
  parseSeverityFilter,
  type ComplianceRow,
  type ExportError,
  type ExportFilters,
  type ExportKind,
  type FindingRow,
} from '../export';

const outputs = ['json', 'csv'] as const;
type Output = (typeof outputs)[number];

/** Objects per list request: ImageScans are a few KiB each, so a page stays under a MiB or two. */
const pageSize = 100;

/** Writes to stdout, waiting when the pipe is full, so a slow reader never makes us buffer the export. */
async function write(text: string): Promise<void> {
  if (process.stdout.write(text)) return;
  await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
}

/** How one kind of row is written in the chosen format. */
interface Sink<Row> {
  start(): Promise<void>;
  row(row: Row): Promise<void>;
  end(): Promise<void>;
}

function sink<Row extends FindingRow | ComplianceRow>(output: Output, name: 'findings' | 'compliance', columns: ReadonlyArray<keyof Row & string>): Sink<Row> & { count: number } {
  const state = { count: 0 };
  return {
    get count() {
      return state.count;
    },
    start: () => write(output === 'json' ? jsonExport.arrayStart(name) : csvHeader(columns)),
    row: (row) => {
      const first = state.count === 0;
      state.count++;
      return write(output === 'json' ? jsonExport.item(row, first) : csvLine(columns, row));
    },
    end: () => (output === 'json' ? write(jsonExport.arrayEnd(state.count === 0)) : Promise.resolve()),
  };
}

/** What one kind's export did: objects read, errors, and whether the API refused the list. */
interface Tally {
  read: number;
  errors: ExportError[];
}

/** The objects of a kind, a page at a time, in the namespace asked for or all of them. */
async function* pages<T>(client: KubeClient, kind: 'ImageScan' | 'ComplianceReport', namespace: string | undefined): AsyncGenerator<T[]> {
  let token: string | undefined;
  do {
    const page = await client.listPage('securestack.io/v1alpha1', kind, pageSize, token, namespace);
    yield page.items as unknown as T[];
    token = page.continueToken;
  } while (token);
}

/** Every selected object of a kind, with NotFound errors for names nobody has, and ListFailed when the API refuses. */
async function eachSelected<T extends { metadata: { name?: string; namespace?: string } }>(
  client: KubeClient,
  kind: 'ImageScan' | 'ComplianceReport',
  filters: ExportFilters,
  tally: Tally,
  visit: (object: T) => Promise<void>,
): Promise<void> {
  const seen = new Set<string>();
  try {
    for await (const page of pages<T>(client, kind, filters.namespace)) {
      for (const object of page) {
        if (!objectSelected(object, filters)) continue;
        seen.add(object.metadata.name ?? '');
        await visit(object);
      }
    }
  } catch (err) {
    tally.errors.push({ kind, reason: 'ListFailed', message: `listing ${kind}s${filters.namespace ? ` in ${filters.namespace}` : ''}: ${messageOf(err)}` });
    return;
  }
  for (const name of filters.names.filter((wanted) => !seen.has(wanted))) {
    tally.errors.push({ kind, ...(filters.namespace ? { namespace: filters.namespace } : {}), name, reason: 'NotFound', message: `no ${kind} ${name}${filters.namespace ? ` in namespace ${filters.namespace}` : ' in any namespace'}` });
  }
}

/** The reference to an object's stored document when it is Completed and has one; else why not, recorded. */
function storedRef<R>(where: Omit<ExportError, 'reason' | 'message'>, phase: string | undefined, ref: R | undefined, missing: string, tally: Tally): R | undefined {
  if (phase !== 'Completed') {
    tally.errors.push({ ...where, reason: 'NotCompleted', message: `phase is ${phase ?? 'unset'}, not Completed` });
    return undefined;
  }
  if (!ref) tally.errors.push({ ...where, reason: 'NotStored', message: `Completed but ${missing}` });
  return ref;
}

async function exportFindings(client: KubeClient, filters: ExportFilters, out: Sink<FindingRow>, tally: Tally): Promise<void> {
  const [{ readSbom }, { summarize }] = await Promise.all([import('../../features/scan/sbom-store'), import('../../features/scan/report')]);
  await eachSelected<ImageScan>(client, 'ImageScan', filters, tally, async (scan) => {
    const where = { kind: 'ImageScan' as const, namespace: scan.metadata.namespace ?? '', name: scan.metadata.name ?? '' };
    const sbomRef = storedRef(where, scan.status?.phase, scan.status?.sbomRef, 'no sbomRef: no stored SBOM to read the findings from', tally);
    if (!sbomRef) return;
    let findings: Awaited<ReturnType<typeof summarize>>;
    try {
      const doc = JSON.parse((await readSbom(client, where.namespace, sbomRef)).toString('utf8')) as Record<string, unknown>;
      // The ImageScan's own options, so the rows are what its status counts (all of them, every title whole).
      findings = summarize(doc, String(doc.specVersion), {
        topN: Number.MAX_SAFE_INTEGER,
        topFindingsMaxBytes: Number.MAX_SAFE_INTEGER,
        titleMaxChars: Number.MAX_SAFE_INTEGER,
        ...(scan.spec.severities && scan.spec.severities.length > 0 ? { severities: scan.spec.severities } : {}),
        ...(scan.spec.ignoreUnfixed ? { ignoreUnfixed: true } : {}),
      });
    } catch (err) {
      tally.errors.push({ ...where, reason: 'Unreadable', message: `stored SBOM ${sbomRef.name}: ${messageOf(err)}` });
      return;
    }
    tally.read++;
    for (const row of findingRows(scan, findings.topFindings, filters, findings.digest)) await out.row(row);
  });
}

async function exportCompliance(client: KubeClient, filters: ExportFilters, out: Sink<ComplianceRow>, tally: Tally): Promise<void> {
  const { readResults } = await import('../../features/compliance/results-store');
  await eachSelected<ComplianceReport>(client, 'ComplianceReport', filters, tally, async (report) => {
    if (!frameworkSelected(report, filters.frameworks)) return;
    const where = { kind: 'ComplianceReport' as const, namespace: report.metadata.namespace ?? '', name: report.metadata.name ?? '' };
    const resultsRef = storedRef(where, report.status?.phase, report.status?.resultsRef, 'no resultsRef: no stored results to read', tally);
    if (!resultsRef) return;
    let document: Awaited<ReturnType<typeof readResults>>;
    try {
      document = await readResults(client, where.namespace, resultsRef);
    } catch (err) {
      tally.errors.push({ ...where, reason: 'Unreadable', message: `stored results ${resultsRef.name}: ${messageOf(err)}` });
      return;
    }
    tally.read++;
    for (const row of complianceRows(document, filters)) await out.row(row);
  });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The filters the flags ask for; flags that cannot apply to the kind asked for are usage errors. */
function filtersOf(parsed: Parsed, kind: ExportKind, contextNamespace: string): ExportFilters {
  const frameworks = parsed.strings('framework').flatMap((value) => value.split(',')).map((value) => value.trim()).filter((value) => value !== '');
  if (kind === 'findings' && frameworks.length > 0) throw new UsageError('--framework selects ComplianceReports: export compliance or all');
  if (kind === 'compliance' && parsed.flag('fixable')) throw new UsageError('--fixable selects vulnerability findings: export findings or all');
  const allNamespaces = parsed.flag('all-namespaces');
  if (allNamespaces && parsed.optional('namespace')) throw new UsageError('--namespace and --all-namespaces exclude each other');
  return {
    namespace: allNamespaces ? undefined : (parsed.optional('namespace') ?? contextNamespace),
    names: parsed.strings('name'),
    severities: parseSeverityFilter(parsed.string('severity')),
    frameworks,
    fixable: parsed.flag('fixable'),
  };
}

function kindOf(parsed: Parsed, output: Output): ExportKind {
  if (parsed.positionals.length > 1) throw new UsageError(`one of ${exportKinds.join(', ')}, not ${parsed.positionals.length} arguments`);
  const given = parsed.positionals[0] ?? 'all';
  const kind = exportKinds.find((k) => k === given.toLowerCase());
  if (!kind) throw new UsageError(`"${given}": export one of ${exportKinds.join(', ')}`);
  if (kind === 'all' && output === 'csv') throw new UsageError('CSV holds one kind of row: export findings or compliance, or use -o json for all');
  return kind;
}

/**
 * Exit 0 when everything selected was exported, or only left out objects with nothing to read
 * yet (not Completed). Exit 2 when a list failed, a stored SBOM or results document was missing
 * or corrupt, a --name matched nothing, or objects were selected and none could be read.
 */
export function exitCodeOf(tallies: readonly Tally[]): number {
  const errors = tallies.flatMap((tally) => tally.errors);
  const read = tallies.reduce((sum, tally) => sum + tally.read, 0);
  if (errors.some((error) => error.reason !== 'NotCompleted' && error.reason !== 'NotStored')) return exitCodes.usage;
  return read === 0 && errors.length > 0 ? exitCodes.usage : exitCodes.clean;
}

async function run(parsed: Parsed): Promise<number> {
  const output = parsed.string('output') as Output;
  const kind = kindOf(parsed, output);
  const { clusterClient, kubeContext } = await import('../cluster');
  const context = kubeContext(parsed);
  const filters = filtersOf(parsed, kind, context.namespace);
  const client = clusterClient(parsed);
  const findings = { read: 0, errors: [] } as Tally;
  const compliance = { read: 0, errors: [] } as Tally;
  const findingSink = sink<FindingRow>(output, 'findings', findingColumns);
  const complianceSink = sink<ComplianceRow>(output, 'compliance', complianceColumns);

  if (output === 'json') await write(jsonExport.open({ context: context.name, generatedAt: new Date().toISOString(), filters }));
  if (kind !== 'compliance') {
    await findingSink.start();
    await exportFindings(client, filters, findingSink, findings);
    await findingSink.end();
  }
  if (kind !== 'findings') {
    await complianceSink.start();
    await exportCompliance(client, filters, complianceSink, compliance);
    await complianceSink.end();
  }
  const errors = [...findings.errors, ...compliance.errors];
  if (output === 'json') {
    const counts = {
      ...(kind !== 'compliance' ? { imageScans: findings.read, findings: findingSink.count } : {}),
      ...(kind !== 'findings' ? { complianceReports: compliance.read, compliance: complianceSink.count } : {}),
    };
    await write(jsonExport.close(errors, counts));
  }
  for (const error of errors) process.stderr.write(errorLine(error));
  return exitCodeOf([findings, compliance]);
}

export const reportExportCommand: Command = {
  name: 'report export',
  summary: 'Export ImageScan findings and ComplianceReport results as CSV or JSON',
  description: `Export ImageScan findings and ComplianceReport results from the cluster as CSV or JSON.

 Every finding, not only the 20 in an ImageScan's status: each Completed ImageScan's stored SBOM is
read back (checked against its sha256) and its findings rebuilt by the operator's own CycloneDX
reader, with the ImageScan's spec.severities and spec.ignoreUnfixed, so the rows are what its status
counts. Every per-object result of each Completed ComplianceReport, from its stored results: one
row per object and control that had a result (pass or fail).

 What to export: findings, compliance, or all (the default; JSON only, since CSV holds one kind of
row). Namespaces as in kubectl: the context's namespace unless -n or -A. Objects that could not be
read are named on stderr and under "errors" in JSON; the others are still exported.

 Exit codes: 0 everything selected was exported (objects not Completed yet are named but do not
fail the run), 2 usage errors, a list the API refused, a stored SBOM or results document missing
or corrupt, a --name that matched nothing, or objects selected and none readable.`,
  usage: 'securestack report export [findings|compliance|all] [-o json|csv] [-n NAMESPACE | -A] [options]',
  examples: [
    ['Every critical and high finding in the cluster as CSV', 'securestack report export findings -A --severity high -o csv > findings.csv'],
    ['Fixable findings of one ImageScan, as JSON', 'securestack report export findings -n team-a --name web --fixable'],
    ["The CIS results of every namespace's reports", 'securestack report export compliance -A --framework cis-kubernetes-workloads -o csv'],
    ['Everything in the current namespace, from another context', 'securestack report export --context prod'],
  ],
  flags: [
    { long: 'output', short: 'o', type: 'string', default: 'json', choices: outputs, help: 'JSON (one document with findings, compliance, errors and counts) or CSV (a header, then a row per\nfinding or per object and control; RFC 4180, formulas neutralised with a leading \').' },
    { long: 'namespace', short: 'n', type: 'string', help: "The namespace to export from (default the context's namespace, else default)." },
    { long: 'all-namespaces', short: 'A', type: 'boolean', default: false, help: 'Export from every namespace.' },
    { long: 'severity', type: 'string', help: 'One severity is a minimum: high means CRITICAL and HIGH. A comma-separated list is exactly\nthose: critical,low (high, is HIGH alone). Findings by their severity, compliance rows by their\ncontrol\'s. One of critical, high, medium, low, unknown.' },
    { long: 'framework', type: 'string', multiple: true, help: 'Only ComplianceReports of these frameworks (repeatable, or comma-separated): an evaluated id such\nas pss-restricted or custom:team-baseline, or spec.framework (custom selects every custom one).' },
    { long: 'name', type: 'string', multiple: true, help: 'Only ImageScans and ComplianceReports of these names (repeatable).' },
    { long: 'fixable', type: 'boolean', default: false, help: 'Only findings with a fixed version.' },
    ...clusterFlags,
  ],
  completeArgs: () => exportKinds,
  run,
};
