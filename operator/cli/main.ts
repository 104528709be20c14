/**
 * The securestack command: the webhook's rules where there is no cluster (CI, a laptop).
 *
 *   securestack audit -p POLICY... [flags] FILE|DIR|- ...
 *
 * Exit codes: 0 nothing at or above --fail-on; 1 violations at or above --fail-on; 2 usage or
 * input errors (a file that does not parse, a bad policy), named with file and line.
 */
import { parseArgs } from 'node:util';
import { auditObject, fails, loadPolicies, parseFailOn, type AuditResult, type AuditWarning } from './audit';
import { isProblem, readObjects, type ParseProblem, type SourcedObject } from './documents';
import { renderJson, renderTable } from './format';
import { packageRoot } from '../api/schema';
import { renderSarif } from './sarif';
import { renderCsv, renderJunit, type CheckedObject } from './tabular';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The package's version, for tools that record which securestack produced a report. */
function version(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export const exitCodes = { clean: 0, violations: 1, usage: 2 } as const;

const usage = `securestack audit: check Kubernetes manifests against ScanPolicies, as the admission webhook would.

Usage:
  securestack audit -p POLICY [-p POLICY ...] [flags] (FILE | DIR | -) ...

Examples:
  # Fail a pull request on what the webhook would deny
  securestack audit -p policies/ manifests/
  # A Helm chart's output, as JSON
  helm template my-release ./chart | securestack audit -p policies/ -o json -
  # Fail on anything HIGH or worse, whatever the policy's mode
  kustomize build overlays/prod | securestack audit -p policies/ --fail-on high -

Flags:
  -p, --policy FILE|DIR       ScanPolicy manifests (repeatable; required)
  -o, --output FORMAT         table (default), json, sarif (SARIF 2.1.0 for code scanning),
                              junit (JUnit XML, a test case per object) or csv
      --fail-on MODE|SEVERITY  enforce (default), warn, audit, or critical, high, medium, low
  -n, --namespace NAME        namespace of objects that name none (default "default")
      --namespace-labels FILE Namespace manifests whose labels namespaceSelectors read (repeatable);
                              Namespace objects among the inputs count too, for what follows them
      --namespace-label NS:KEY=VALUE  one label of one namespace (repeatable)
      --no-color              no colour in the table (also NO_COLOR=1, or output not a terminal)
  -h, --help                  this help

Exit codes: 0 clean, 1 violations at or above --fail-on, 2 usage or input errors.
`;

class UsageError extends Error {}

const outputs = ['table', 'json', 'sarif', 'junit', 'csv'] as const;

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

async function audit(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      policy: { type: 'string', short: 'p', multiple: true },
      output: { type: 'string', short: 'o', default: 'table' },
      'fail-on': { type: 'string', default: 'enforce' },
      namespace: { type: 'string', short: 'n', default: 'default' },
      'namespace-labels': { type: 'string', multiple: true },
      'namespace-label': { type: 'string', multiple: true },
      'no-color': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    return exitCodes.clean;
  }
  if (!values.policy?.length) throw new UsageError('at least one --policy is required');
  if (positionals.length === 0) throw new UsageError('name the manifests: files, folders, or - for stdin');
  if (!(outputs as readonly string[]).includes(values.output)) throw new UsageError(`--output ${values.output}: expected ${outputs.join(', ')}`);
  const failOn = parseFailOn(values['fail-on']);

  const policyInput = await collect(values.policy);
  const loaded = loadPolicies(policyInput.objects);
  const policyErrors = [...policyInput.problems.map((p) => `${p.source}:${p.line}: ${p.problem}`), ...loaded.errors];
  if (policyErrors.length > 0) {
    process.stderr.write(`securestack: the policies cannot be used:\n${policyErrors.map((e) => `  ${e}`).join('\n')}\n`);
    return exitCodes.usage;
  }
  const namespaceLabels = new Map<string, Record<string, string>>();
  for (const file of values['namespace-labels'] ?? []) {
    for (const { object } of (await collect([file])).objects) {
      if (object.kind === 'Namespace' && object.metadata?.name) namespaceLabels.set(object.metadata.name, object.metadata.labels ?? {});
    }
  }
  for (const flag of values['namespace-label'] ?? []) labelFlag(flag, namespaceLabels);

  const collected: Collected = { checked: [], results: [], warnings: [], problems: [], objects: 0 };
  const now = Date.now();
  for await (const item of readObjects(positionals)) {
    if (isProblem(item)) {
      collected.problems.push(item);
      continue;
    }
    collected.objects++;
    if (values.output === 'junit') {
      const { kind = '', metadata } = item.object;
      collected.checked.push({ source: item.source, line: item.line, kind, namespace: metadata?.namespace || (item.object.kind === 'Namespace' ? undefined : values.namespace), name: metadata?.name || metadata?.generateName || '' });
    }
    if (item.object.kind === 'Namespace' && item.object.metadata?.name && !namespaceLabels.has(item.object.metadata.name)) {
      namespaceLabels.set(item.object.metadata.name, item.object.metadata.labels ?? {});
    }
    const judged = auditObject(item, { policies: loaded.policies, defaultNamespace: values.namespace, namespaceLabels, now });
    collected.results.push(...judged.results);
    collected.warnings.push(...judged.warnings);
  }
  const failing = collected.results.filter((result) => fails(result, failOn));
  const colour = !values['no-color'] && process.stdout.isTTY === true && !process.env.NO_COLOR;
  const rendered: Record<(typeof outputs)[number], () => string> = {
    table: () => renderTable(collected, failing.length, colour),
    json: () => renderJson(collected, failing.length),
    sarif: () => renderSarif(collected.results, version()),
    junit: () => renderJunit(collected.checked, collected.results, (result) => fails(result, failOn)),
    csv: () => renderCsv(collected.results),
  };
  process.stdout.write(rendered[values.output as (typeof outputs)[number]]());
  for (const problem of collected.problems) process.stderr.write(`securestack: ${problem.source}:${problem.line}: ${problem.problem}\n`);
  if (collected.problems.length > 0) return exitCodes.usage;
  return failing.length > 0 ? exitCodes.violations : exitCodes.clean;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'audit') return await audit(rest);
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write(usage);
      return command === undefined ? exitCodes.usage : exitCodes.clean;
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const isUsage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true;
    process.stderr.write(`securestack: ${message}\n${isUsage ? 'Run securestack audit --help for usage.\n' : ''}`);
    return exitCodes.usage;
  }
}

/** Runs the command line of this process and sets its exit code. */
export function run(): void {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

if (require.main === module) run();
