// A stand-in scanner for the scan tests, run by the node player in place of Trivy (image map
// entries securestack.test/malformed-scanner and securestack.test/large-scanner). It takes the
// Job's Trivy arguments unchanged and writes to the --output file:
//   malformed  a JSON document that is not CycloneDX 1.6 (the controller must fail the scan);
//   large      a Trivy-shaped CycloneDX 1.6 report with 5,000 components and 2,000 vulnerabilities.
import { writeFileSync } from 'node:fs';
import { generateTrivyReport } from './cyclonedx';

function outputPath(args: readonly string[]): string {
  const at = args.indexOf('--output');
  const path = at >= 0 ? args[at + 1] : undefined;
  if (!path) throw new Error('fake-scanner: no --output argument');
  return path;
}

const [mode, ...args] = process.argv.slice(2);
const output = outputPath(args);
if (mode === 'malformed') {
  writeFileSync(output, JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.2', components: 'not a list' }));
} else if (mode === 'large') {
  const report = generateTrivyReport({ components: 5_000, vulnerabilities: 2_000, seed: 7 });
  writeFileSync(output, report.json);
} else {
  process.stderr.write(`fake-scanner: unknown mode ${mode ?? '(none)'}\n`);
  process.exit(2);
}
