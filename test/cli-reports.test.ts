// The reports `securestack audit` writes, byte for byte: golden files of every output format over
// one realistic input (test/fixtures/cli), the SARIF checked against the SARIF 2.1.0 JSON schema
// and the JUnit against Jenkins' JUnit schema, and the formats checked against each other (the
// CSV's rows, the SARIF's results and the JUnit's failures are the JSON's violations).
//
// The schemas come from the npm registry through test/env/report-schemas.sh, which test/run.sh
// runs and passes in SECURESTACK_REPORT_SCHEMAS; without them this test fails saying so.
// After an intended change of the output: SECURESTACK_UPDATE_GOLDEN=1 node --test
// dist/test/cli-reports.test.js, then read the diff of test/golden/cli before committing it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { validateXML } from 'xmllint-wasm';
import type { Log } from 'sarif';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'dist', 'operator', 'cli', 'main.js');
const policies = 'test/fixtures/cli/policies.yaml';
const manifests = 'test/fixtures/cli/manifests.yaml';
const goldenDir = path.join(root, 'test', 'golden', 'cli');
const formats = { table: 'audit.txt', json: 'audit.json', sarif: 'audit.sarif', junit: 'audit.junit.xml', csv: 'audit.csv' } as const;
type Format = keyof typeof formats;

function schemasFolder(): string {
  const folder = process.env.SECURESTACK_REPORT_SCHEMAS ?? '';
  if (!folder || !existsSync(path.join(folder, 'sarif-2.1.0.json'))) {
    assert.fail('the SARIF and JUnit schemas are missing: run SECURESTACK_REPORT_SCHEMAS="$(bash test/env/report-schemas.sh)" node --test dist/test/cli-reports.test.js (test/run.sh does this)');
  }
  return folder;
}

/** The command as CI runs it: from the repository root, with relative paths. */
function audit(format: Format, extra: readonly string[] = []): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, 'audit', '-p', policies, '-o', format, ...extra, manifests], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function golden(format: Format, actual: string): void {
  const file = path.join(goldenDir, formats[format]);
  if (process.env.SECURESTACK_UPDATE_GOLDEN === '1') writeFileSync(file, actual);
  assert.ok(existsSync(file), `no golden file ${file}: run with SECURESTACK_UPDATE_GOLDEN=1 once and commit it`);
  assert.equal(actual, readFileSync(file, 'utf8'), `${format} output differs from ${path.relative(root, file)}`);
}

/** RFC 4180: quoted fields with doubled quotes, CRLF or LF line ends. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += char;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

interface JsonReport {
  objects: number;
  failing: number;
  violations: Array<{ source: string; line: number; fieldLine: number; kind: string; namespace?: string; name: string; policy: string; mode: string; ruleId: string; severity: string; field: string; message: string }>;
}

describe('securestack audit reports', () => {
  const outputs = Object.fromEntries((Object.keys(formats) as Format[]).map((format) => [format, audit(format)])) as Record<Format, ReturnType<typeof audit>>;
  const json = JSON.parse(outputs.json.stdout) as JsonReport;

  it('writes each format as its golden file, with exit 1 (Enforce violations) for every format', () => {
    for (const format of Object.keys(formats) as Format[]) {
      assert.equal(outputs[format].code, 1, `${format}: ${outputs[format].stderr}`);
      assert.equal(outputs[format].stderr, '', format);
      golden(format, outputs[format].stdout);
    }
    // The input has something for each mode, so the golden files cover each level and colour.
    assert.deepEqual([...new Set(json.violations.map((v) => v.mode))].sort(), ['Audit', 'Enforce', 'Warn']);
    assert.equal(json.objects, 6);
    assert.equal(json.failing, json.violations.filter((v) => v.mode === 'Enforce').length);
  });

  it('writes SARIF that the SARIF 2.1.0 JSON schema accepts, and the schema check catches a broken log', () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(path.join(schemasFolder(), 'sarif-2.1.0.json'), 'utf8')) as object);
    const log = JSON.parse(outputs.sarif.stdout) as Log;
    assert.ok(validate(log), ajv.errorsText(validate.errors, { separator: '\n' }));
    // The check can fail: a level SARIF does not define, and a property results do not have.
    const broken = structuredClone(log) as unknown as { runs: Array<{ results: Array<Record<string, unknown>> }> };
    const first = broken.runs[0]?.results[0];
    assert.ok(first);
    first.level = 'fatal';
    first.file = 'x';
    assert.equal(validate(broken), false);
    assert.deepEqual(validate.errors?.map((e) => e.instancePath).sort(), ['/runs/0/results/0', '/runs/0/results/0/level']);

    // Each result is one violation of the JSON report, at the field's line, its level by mode.
    const results = log.runs[0]?.results ?? [];
    assert.equal(results.length, json.violations.length);
    const levels: Record<string, string> = { Enforce: 'error', Warn: 'warning', Audit: 'note' };
    results.forEach((result, i) => {
      const violation = json.violations[i];
      assert.ok(violation);
      assert.equal(result.ruleId, violation.ruleId);
      assert.equal(result.level, levels[violation.mode]);
      assert.deepEqual(result.locations?.[0]?.physicalLocation?.artifactLocation, { uri: manifests });
      assert.equal(result.locations?.[0]?.physicalLocation?.region?.startLine, violation.fieldLine);
    });
  });

  it('writes JUnit that Jenkins\' JUnit schema accepts, and the schema check catches a broken file', async () => {
    const schema = [{ fileName: 'jenkins-junit.xsd', contents: readFileSync(path.join(schemasFolder(), 'jenkins-junit.xsd'), 'utf8') }];
    const valid = await validateXML({ xml: [{ fileName: 'audit.junit.xml', contents: outputs.junit.stdout }], schema });
    assert.ok(valid.valid, valid.rawOutput);
    const broken = outputs.junit.stdout.replace('<testcase ', '<testcase line="3" ');
    const invalid = await validateXML({ xml: [{ fileName: 'broken.xml', contents: broken }], schema });
    assert.equal(invalid.valid, false);
    assert.match(invalid.errors[0]?.rawMessage ?? '', /attribute 'line' is not allowed/);

    // A test case per object; the failing ones are those with an Enforce violation.
    assert.equal(outputs.junit.stdout.match(/<testcase /g)?.length, json.objects);
    const failingObjects = new Set(json.violations.filter((v) => v.mode === 'Enforce').map((v) => `${v.kind}/${v.namespace ?? ''}/${v.name}`));
    assert.equal(outputs.junit.stdout.match(/<failure /g)?.length, failingObjects.size);
  });

  it('writes CSV whose rows are the JSON report\'s violations', () => {
    const [header, ...rows] = parseCsv(outputs.csv.stdout);
    assert.deepEqual(header, ['severity', 'mode', 'policy', 'rule', 'kind', 'namespace', 'name', 'field', 'message', 'remediation', 'file', 'line', 'fieldLine']);
    assert.equal(rows.length, json.violations.length);
    rows.forEach((row, i) => {
      const v = json.violations[i];
      assert.ok(v);
      assert.deepEqual([row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[10], row[11], row[12]], [v.severity, v.mode, v.policy, v.ruleId, v.kind, v.namespace ?? '', v.name, v.field, v.message, v.source, String(v.line), String(v.fieldLine)]);
    });
  });

  it('changes only the exit code and the failing count with --fail-on, not the findings', () => {
    const high = audit('json', ['--fail-on', 'high']);
    const report = JSON.parse(high.stdout) as JsonReport;
    assert.equal(high.code, 1);
    assert.deepEqual(report.violations, json.violations);
    assert.equal(report.failing, json.violations.filter((v) => v.severity === 'CRITICAL' || v.severity === 'HIGH').length);
    const critical = audit('json', ['--fail-on', 'critical']);
    assert.equal((JSON.parse(critical.stdout) as JsonReport).failing, json.violations.filter((v) => v.severity === 'CRITICAL').length);
  });
});
