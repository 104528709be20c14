/**
 * `securestack sbom diff A B`: what changed between two CycloneDX SBOMs, files or ImageScans'
 * stored ones. The comparison is operator/features/scan/sbom-diff.ts; reading the inputs is
 * ../sbom-input.ts.
 */
import type { Severity } from '../../features/scan/report';
import { diffSboms, introducedAtOrAbove } from '../../features/scan/sbom-diff';
import { clusterFlags, exitCodes, UsageError, type Command, type Parsed } from '../command';
import { renderCsv, renderJson, renderTable, type DiffReport } from '../sbom-diff-format';
import { readSbomInputs } from '../sbom-input';

const outputs = ['table', 'json', 'csv'] as const;
type Output = (typeof outputs)[number];
const failOnChoices = ['critical', 'high', 'medium', 'low'] as const;

async function run(parsed: Parsed): Promise<number> {
  if (parsed.positionals.length !== 2) {
    throw new UsageError(`expected two SBOMs, A and B (files, - for stdin, or imagescan/NAME); got ${parsed.positionals.length}`);
  }
  const output = parsed.string('output') as Output;
  const failOnFlag = parsed.optional('fail-on');
  const failOn = failOnFlag ? (failOnFlag.toUpperCase() as Severity) : undefined;
  const [a, b] = await readSbomInputs(parsed.positionals, parsed);
  if (!a || !b) throw new Error('internal error: two inputs were read as fewer');
  const diff = diffSboms(a.bom, b.bom);
  const failing = failOn ? introducedAtOrAbove(diff, failOn).length : 0;
  const side = (input: typeof a): DiffReport['a'] => ({ source: input.source, ...(input.image ? { image: input.image } : {}) });
  const report: DiffReport = { a: side(a), b: side(b), diff, ...(failOn ? { failOn } : {}), failing };
  const colour = !parsed.flag('no-color') && process.stdout.isTTY === true && !process.env.NO_COLOR;
  const rendered: Record<Output, () => string> = {
    table: () => renderTable(report, colour),
    json: () => renderJson(report),
    csv: () => renderCsv(report),
  };
  process.stdout.write(rendered[output]());
  return failing > 0 ? exitCodes.violations : exitCodes.clean;
}

export const sbomDiffCommand: Command = {
  name: 'sbom diff',
  summary: 'Compare two CycloneDX SBOMs: components and vulnerabilities added, removed, changed',
  description: `Compare two CycloneDX SBOMs: components added, removed and changed in version, and
vulnerabilities introduced and fixed, from A (before) to B (after).

 A and B are CycloneDX JSON files (gzip too; - reads one of them from stdin) or the stored SBOM of
an ImageScan: imagescan/NAME in the namespace of -n (default the kube context's), or
imagescan/NAMESPACE/NAME. A component is its purl without the version (and without build
qualifiers such as distro); one present in several versions is compared by its set of versions.
A vulnerability is an id in a package; its severity is the one the ImageScan shows.

 Exit codes: 0 nothing introduced at or above --fail-on (or no --fail-on), 1 an introduced
vulnerability at or above --fail-on, 2 usage or input errors (a file that is missing or is not
CycloneDX JSON, an ImageScan that does not exist or has no SBOM yet).`,
  usage: 'securestack sbom diff A B [options]',
  examples: [
    ['What changed between two scans of the same app', 'securestack sbom diff imagescan/app-v1 imagescan/app-v2'],
    ['Fail a pipeline when the new image brings a HIGH or CRITICAL vulnerability', 'trivy image -f cyclonedx -o new.cdx.json registry.example/app:2 && securestack sbom diff imagescan/prod/app new.cdx.json --fail-on high'],
    ['Every difference as CSV, from SBOM files', 'securestack sbom diff -o csv old.cdx.json.gz new.cdx.json > changes.csv'],
  ],
  flags: [
    { long: 'output', short: 'o', type: 'string', default: 'table', choices: outputs, help: 'Output format: a table, JSON (the shape in docs/cli.md) or CSV (a row per difference).' },
    { long: 'fail-on', type: 'string', choices: failOnChoices, help: 'Exit 1 when a vulnerability at or above this severity is introduced.' },
    { long: 'namespace', short: 'n', type: 'string', help: "The namespace of imagescan/NAME (default the kube context's, else default)." },
    ...clusterFlags,
    { long: 'no-color', type: 'boolean', default: false, help: 'No colour in the table (also NO_COLOR=1, or when the output is not a terminal).' },
  ],
  completeArgs: 'files',
  run,
};
