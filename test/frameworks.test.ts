// The built-in compliance frameworks: well-formed data, mappings onto rules that exist, the Pod
// Security Standards levels nested like the standard's, and docs/frameworks.md kept equal to the data.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { findingCounts, type BuiltinFrameworkId, type Control, type ControlCheck, type Framework } from '../operator/engine/compliance/framework';
import { builtinFrameworks, frameworkById } from '../operator/engine/compliance/frameworks';
import { controlIdPattern, frameworkLimits, frameworkProblems } from '../operator/engine/compliance/validate';
import { catalog, ruleById } from '../operator/engine/rules';
import { describeCheck, frameworksDocPath, renderFrameworksDoc } from '../tools/frameworks-doc';
import { reportedFields } from '../tools/rules-doc';

function framework(id: BuiltinFrameworkId): Framework {
  const found = frameworkById(id);
  assert.ok(found, id);
  return found;
}

function rulesOf(control: Control): readonly string[] {
  return control.check.type === 'rules' ? control.check.rules : [];
}

const isPssRule = (id: string): boolean => ruleById(id)?.family.startsWith('pod-security-') ?? false;

describe('built-in frameworks', () => {
  it('are the four BuiltinFrameworkIds, found by id', () => {
    const ids: BuiltinFrameworkId[] = ['pss-baseline', 'pss-restricted', 'cis-kubernetes-workloads', 'nsa-cisa-hardening'];
    assert.deepEqual(builtinFrameworks.map((entry) => entry.id), ids);
    for (const id of ids) assert.equal(frameworkById(id)?.id, id);
    assert.equal(frameworkById('no-such-framework'), undefined);
    for (const entry of builtinFrameworks) for (const field of ['title', 'version', 'source', 'description'] as const) assert.ok(entry[field].trim() !== '', `${entry.id}.${field}`);
  });

  it('have no problems: ids, titles, sizes and checks within bounds', () => {
    for (const entry of builtinFrameworks) assert.deepEqual(frameworkProblems(entry), [], entry.id);
  });

  it('use unique control ids matching the pattern, titles of at most 256 characters, at most 256 controls', () => {
    for (const entry of builtinFrameworks) {
      assert.ok(entry.controls.length > 0 && entry.controls.length <= 256, entry.id);
      assert.equal(new Set(entry.controls.map((control) => control.id)).size, entry.controls.length, `${entry.id}: duplicate control id`);
      for (const control of entry.controls) {
        assert.match(control.id, /^[A-Za-z0-9][A-Za-z0-9._-]*$/, `${entry.id} ${control.id}`);
        assert.ok(control.id.length <= 64, `${entry.id} ${control.id}`);
        assert.ok(control.title.length > 0 && control.title.length <= 256, `${entry.id} ${control.id}`);
      }
    }
  });

  it('name only rules the catalog has, and fields those rules report', () => {
    for (const entry of builtinFrameworks) {
      for (const control of entry.controls) {
        for (const id of rulesOf(control)) assert.ok(ruleById(id), `${entry.id} ${control.id}: no rule ${id}`);
        if (control.check.type !== 'rules' || !control.check.fields) continue;
        const documented = control.check.rules.flatMap((id) => reportedFields[id] ?? []);
        for (const field of control.check.fields) assert.ok(documented.some((path) => path.endsWith(`.${field}`)), `${entry.id} ${control.id}: no rule reports ${field}`);
      }
    }
  });

  it('never map a manual control to a rule, nor a checked one without what it checks', () => {
    for (const entry of builtinFrameworks) {
      for (const control of entry.controls) {
        if (control.check.type === 'manual') assert.ok(control.check.reason.length >= 40, `${entry.id} ${control.id}: say why it cannot be checked`);
        if (control.check.type === 'rules') assert.ok(control.check.rules.length > 0, `${entry.id} ${control.id}`);
      }
    }
  });
});

describe('Pod Security Standards frameworks', () => {
  const baseline = framework('pss-baseline');
  const restricted = framework('pss-restricted');

  it('pss-restricted contains every pss-baseline control unchanged, as the standard does', () => {
    for (const control of baseline.controls) assert.deepEqual(restricted.controls.find((candidate) => candidate.id === control.id), control, control.id);
    assert.equal(restricted.controls.length, baseline.controls.length + 6);
    assert.equal(restricted.version, baseline.version);
  });

  it('map every control to PSS rules only, and every PSS rule of the level to a control', () => {
    for (const entry of [baseline, restricted]) {
      for (const control of entry.controls) {
        assert.equal(control.check.type, 'rules', `${entry.id} ${control.id}`);
        for (const id of rulesOf(control)) assert.ok(isPssRule(id), `${entry.id} ${control.id}: ${id} is not a Pod Security Standards rule`);
      }
    }
    const used = (entry: Framework): Set<string> => new Set(entry.controls.flatMap(rulesOf));
    const family = (name: string): string[] => catalog.filter((rule) => rule.family === name).map((rule) => rule.id);
    assert.deepEqual([...used(baseline)].sort(), family('pod-security-baseline').sort());
    assert.deepEqual([...used(restricted)].sort(), [...family('pod-security-baseline'), ...family('pod-security-restricted')].sort());
  });
});

describe('CIS Kubernetes Benchmark framework', () => {
  const cis = framework('cis-kubernetes-workloads');

  it('follows the numbering of section 5 of v1.10.0: 13, 13, 2, 2, 1 and 4 recommendations, no 5.6', () => {
    assert.equal(cis.version, '1.10.0');
    const perSection = new Map<string, string[]>();
    for (const control of cis.controls) {
      const section = control.id.split('.').slice(0, 2).join('.');
      perSection.set(section, [...(perSection.get(section) ?? []), control.id]);
    }
    const expected: [string, number][] = [['5.1', 13], ['5.2', 13], ['5.3', 2], ['5.4', 2], ['5.5', 1], ['5.7', 4]];
    assert.deepEqual([...perSection.keys()], expected.map(([section]) => section));
    for (const [section, count] of expected) {
      assert.deepEqual(perSection.get(section), Array.from({ length: count }, (_, index) => `${section}.${index + 1}`), section);
    }
  });

  it('checks host namespaces one field per recommendation', () => {
    const fieldsOf = (id: string): readonly string[] | undefined => {
      const check = cis.controls.find((control) => control.id === id)?.check;
      return check?.type === 'rules' ? check.fields : undefined;
    };
    assert.deepEqual(fieldsOf('5.2.3'), ['hostPID']);
    assert.deepEqual(fieldsOf('5.2.4'), ['hostIPC']);
    assert.deepEqual(fieldsOf('5.2.5'), ['hostNetwork']);
  });

  it('leaves manual exactly what the API cannot show', () => {
    assert.deepEqual(cis.controls.filter((control) => control.check.type === 'manual').map((control) => control.id), ['5.1.7', '5.2.1', '5.3.1', '5.4.2', '5.5.1', '5.7.1']);
  });
});

describe('NSA/CISA framework', () => {
  it('checks vulnerabilities by fixable CRITICAL findings and by scan age', () => {
    const nsa = framework('nsa-cisa-hardening');
    const conditions = nsa.controls.flatMap((control) => (control.check.type === 'vulnerabilities' ? [control.check.vulnerabilities] : []));
    assert.deepEqual(conditions, [{ fixableAtOrAbove: 'CRITICAL' }, { maxScanAgeHours: 24 }]);
    for (const id of ['logging.audit', 'network.etcd-encryption', 'authz.anonymous-auth']) assert.equal(nsa.controls.find((control) => control.id === id)?.check.type, 'manual', id);
  });
});

describe('frameworkProblems', () => {
  const control = (id: string, check: ControlCheck, title = 'A control'): Control => ({ id, title, severity: 'HIGH', description: 'd', remediation: 'r', check });
  const of = (...controls: Control[]): Framework => ({ id: 'custom', title: 'Custom', version: '1', source: 's', description: 'd', controls });
  const rules: ControlCheck = { type: 'rules', rules: ['disallow-privileged'] };

  it('accepts the bounds and refuses one past each', () => {
    assert.deepEqual(frameworkProblems(of(control('a'.repeat(64), rules, 't'.repeat(256)))), []);
    assert.equal(frameworkProblems(of(control('a'.repeat(65), rules))).length, 1);
    assert.equal(frameworkProblems(of(control('a', rules, 't'.repeat(257)))).length, 1);
    assert.equal(frameworkProblems(of(control('a', rules, ''))).length, 1);
    const many = (count: number): Control[] => Array.from({ length: count }, (_, index) => control(`c${index}`, rules));
    assert.deepEqual(frameworkProblems(of(...many(frameworkLimits.controls))), []);
    assert.match(frameworkProblems(of(...many(frameworkLimits.controls + 1))).join(), /257 controls/);
    assert.match(frameworkProblems(of()).join(), /0 controls/);
  });

  it('refuses ids outside the pattern, duplicates and unknown rules', () => {
    for (const id of ['5.1.1', 'pss-baseline-privileged', 'A_b', '0']) assert.ok(controlIdPattern.test(id), id);
    for (const id of ['', '-a', '.a', 'a b', 'a/b', 'ä']) assert.equal(frameworkProblems(of(control(id, rules))).length, 1, JSON.stringify(id));
    assert.match(frameworkProblems(of(control('a', rules), control('a', rules))).join(), /used twice/);
    assert.match(frameworkProblems(of(control('a', { type: 'rules', rules: ['no-such-rule'] }))).join(), /no-such-rule/);
    assert.match(frameworkProblems(of(control('a', { type: 'rules', rules: [] }))).join(), /names no rule/);
    assert.match(frameworkProblems(of(control('a', { type: 'rules', rules: ['disallow-privileged'], fields: [] }))).join(), /fields/);
  });

  it('refuses vulnerability checks that say nothing or contradict themselves, and manual controls without a reason', () => {
    const vulnerabilities = (condition: Record<string, unknown>): ControlCheck => ({ type: 'vulnerabilities', vulnerabilities: condition });
    assert.deepEqual(frameworkProblems(of(control('a', vulnerabilities({ fixableAtOrAbove: 'HIGH', maxFixAgeDays: 30, maxScanAgeHours: 1 })))), []);
    assert.equal(frameworkProblems(of(control('a', vulnerabilities({})))).length, 1);
    assert.equal(frameworkProblems(of(control('a', vulnerabilities({ maxFixAgeDays: 30, maxScanAgeHours: 24 })))).length, 1);
    assert.equal(frameworkProblems(of(control('a', vulnerabilities({ maxScanAgeHours: 0 })))).length, 1);
    assert.equal(frameworkProblems(of(control('a', vulnerabilities({ maxScanAgeHours: 1.5 })))).length, 1);
    assert.equal(frameworkProblems(of(control('a', vulnerabilities({ fixableAtOrAbove: 'SEVERE' })))).length, 1);
    assert.equal(frameworkProblems(of(control('a', { type: 'manual', reason: ' ' }))).length, 1);
  });
});

describe('findingCounts', () => {
  it('counts every finding without fields, and only findings at the named fields with them', () => {
    const all: Extract<ControlCheck, { type: 'rules' }> = { type: 'rules', rules: ['disallow-host-namespaces'] };
    const pid: Extract<ControlCheck, { type: 'rules' }> = { ...all, fields: ['hostPID'] };
    assert.ok(findingCounts(all, 'spec.hostNetwork'));
    assert.ok(findingCounts(pid, 'spec.template.spec.hostPID'));
    assert.ok(findingCounts(pid, 'hostPID'));
    assert.ok(!findingCounts(pid, 'spec.hostNetwork'));
    assert.ok(!findingCounts(pid, 'spec.nothostPID'));
  });
});

describe('docs/frameworks.md', () => {
  it('is the rendering of the current frameworks', () => {
    const committed = readFileSync(frameworksDocPath(), 'utf8');
    assert.ok(committed === renderFrameworksDoc(), 'docs/frameworks.md is stale: run `npm run build && npm run gen-frameworks-doc` and commit the result');
  });

  it('lists every control with its check, linking rules to docs/rules.md', () => {
    const text = renderFrameworksDoc();
    for (const entry of builtinFrameworks) {
      assert.ok(text.includes(`- Id: \`${entry.id}\``) && text.includes(`- Version: ${entry.version}`), entry.id);
      for (const control of entry.controls) {
        assert.ok(text.includes(`| ${control.id} | ${control.severity} |`), `${entry.id} ${control.id}`);
        for (const id of rulesOf(control)) assert.ok(text.includes(`(rules.md#${id})`), `${entry.id} ${control.id}: ${id}`);
      }
    }
    assert.match(describeCheck({ type: 'rules', rules: ['require-network-policy'] }), /\(background only\)/);
    assert.equal(
      describeCheck({ type: 'vulnerabilities', vulnerabilities: { fixableAtOrAbove: 'HIGH', maxFixAgeDays: 30 } }),
      'ImageScan results: every image the workloads run has no vulnerability of severity HIGH or above with a fixed version available whose advisory was published more than 30 days ago',
    );
  });
});
