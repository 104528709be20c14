// Renders docs/rules.md from the rule catalog, so the reference cannot drift from the code.
// Run: npm run build && npm run gen-rules-doc. test/policy-rules.test.ts fails when the committed
// file differs from renderRulesDoc().
import * as fs from 'node:fs';
import * as path from 'node:path';
import yaml from 'js-yaml';
import { packageRoot } from '../operator/api/schema';
import { catalog, exampleFacts, exampleParameters, ruleSetNames, ruleSets } from '../operator/engine/rules';
import { appliesTo, exampleFindings, familyTitles, parameterRows, reportedFields, setsOf } from '../operator/engine/rules/reference';
import type { KubeObject, Rule, RuleFamily } from '../operator/engine/types';

export { reportedFields };

// ---------------------------------------------------------------------------------------------
// Rendering

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function manifest(object: KubeObject): string {
  return ['```yaml', yaml.dump(object, { lineWidth: 120, noRefs: true }).trimEnd(), '```'].join('\n');
}

function ruleSection(rule: Rule): string {
  const lines: string[] = [`### ${rule.id}`, '', `**${rule.title}**`, ''];
  const sets = setsOf(rule);
  lines.push(
    `- Family: ${familyTitles[rule.family]}`,
    `- Default severity: ${rule.severity}`,
    `- Rule sets: ${sets.length > 0 ? sets.map((set) => `\`${set}\``).join(', ') : 'none (enable it in `spec.rules`)'}`,
    `- Applies to: ${appliesTo(rule)}`,
    `- Reports: ${(reportedFields[rule.id] ?? []).map((field) => `\`${field}\``).join(', ')}`,
    ...(rule.backgroundOnly ? ['- Background only: needs the cluster\'s state beside the object; admission skips it (see [Background-only rules](#background-only-rules))'] : []),
    '',
    rule.description,
    '',
    `**Remediation:** ${rule.remediation}`,
    '',
  );
  const rows = parameterRows(rule);
  if (rows.length > 0) {
    lines.push('**Parameters:**', '', '| Name | Type | Default | Meaning |', '|---|---|---|---|');
    for (const row of rows) lines.push(`| \`${row.name}\` | ${cell(row.type)} | ${cell(row.default)} | ${cell(row.meaning)} |`);
    lines.push('');
  } else {
    lines.push('**Parameters:** none.', '');
  }
  const parameters = exampleParameters(rule.id);
  if (parameters) lines.push('The examples are judged with these parameters:', '', manifest(parameters), '');
  if (rule.backgroundOnly) lines.push('The examples are judged in a cluster with these NetworkPolicies per namespace:', '', manifest(Object.fromEntries(exampleFacts.networkPolicies)), '');
  lines.push('**Fails:**', '', manifest(rule.examples.fail), '', 'Findings:', '', ...exampleFindings(rule).map((finding) => `- \`${finding.field}\`: ${finding.message}`), '');
  lines.push('**Passes:**', '', manifest(rule.examples.pass), '');
  return lines.join('\n');
}

const intro = `# Built-in rules

<!-- Generated from the rule catalog by tools/rules-doc.ts. Do not edit by hand:
     run \`npm run build && npm run gen-rules-doc\`. -->

A ScanPolicy applies built-in rules to the objects it matches. The same rules answer in admission,
in the background audit, in ComplianceReports and in the CLI. Pod rules read the pod of a Pod or of
a pod controller's template (ReplicationController, PodTemplate, Deployment, ReplicaSet,
StatefulSet, DaemonSet, Job, CronJob), so a Deployment is judged at \`kubectl apply\`, not only its
Pods later. Every pod rule looks at containers, init containers and ephemeral containers unless its
section says otherwise.

## Turning rules on

\`spec.ruleSets\` turns on whole rule sets; \`spec.rules\` turns on single rules and tunes rules of
the sets:

\`\`\`yaml
apiVersion: securestack.io/v1alpha1
kind: ScanPolicy
metadata:
  name: restricted-workloads
spec:
  mode: Enforce
  ruleSets: [pss-restricted]
  rules:
    - id: restrict-capabilities        # tune a rule of the set
      parameters:
        allowedAdd: []
    - id: disallow-host-path           # raise its severity
      severity: CRITICAL
    - id: restrict-seccomp             # turn a rule of the set off
      enabled: false
    - id: allowed-registries           # a rule outside the set
      parameters:
        registries: [registry.example.com]
\`\`\`

Each entry of \`spec.rules\` has:

- \`id\`: the rule, as in the headings below.
- \`enabled\`: \`false\` turns the rule off, including when a rule set turned it on. Default \`true\`.
- \`severity\`: overrides the rule's default severity (\`CRITICAL\`, \`HIGH\`, \`MEDIUM\`, \`LOW\`).
- \`parameters\`: the rule's parameters, checked against the rule's schema when the policy is
  compiled; a parameter left out takes its default. A policy with invalid parameters is not applied
  and says why in its status.

A violation carries the rule id, the field path in the object (for example
\`spec.template.spec.containers[1].securityContext.privileged\`), a message naming the offending
value and, for container findings, the container's image, which exceptions by image match.
When a field that must be set is missing, the path names the field if its parent exists, else
the nearest missing ancestor (\`spec.containers[0].securityContext\`).

## Background-only rules

A few rules judge an object by what else the cluster holds: \`require-network-policy\` reports a
Namespace without NetworkPolicies. They run only in evaluations given cluster facts (what the caller
listed beside the object) and are skipped in the others: admission never runs them, because a
Namespace is always created before its NetworkPolicies and would otherwise be denied every time.
The ScanPolicy background audit and ComplianceReports count NetworkPolicies per namespace and run
them. A namespace the facts do not cover is not reported. Their sections say "Background only".

## Pod Security Standards versions

The pod-security rules give, check by check, the verdict of the Kubernetes Pod Security admission
controller (k8s.io/pod-security-admission, as of Kubernetes 1.37) at a version of the standard:
\`spec.podSecurityVersion\` (\`latest\`, the default, or \`v1.<minor>\`, like the
\`pod-security.kubernetes.io/enforce-version\` namespace label) is handed to every pod-security rule
as its \`version\` parameter, unless the rule's own parameters set one. A version newer than the
newest known behaves as \`latest\`; checks a version did not have yet (for example the probe host
check before v1.34) pass everything. Where the Restricted level replaces a Baseline check with its
own (capabilities, seccomp, procMount), the Baseline rule takes a \`level\` parameter: the policy
sets it to \`restricted\` when any pod-security-restricted rule is on, else \`baseline\`.
test/pod-security-conformance.test.ts compares both rule sets with the upstream evaluator at every
version.

## Rule sets

| Rule set | Rules |
|---|---|
`;

function ruleSetTable(): string {
  const notes: Record<string, string> = {
    'pss-baseline': 'The Baseline level of the Pod Security Standards.',
    'pss-restricted': 'The Restricted level of the Pod Security Standards; like the standard, it includes every Baseline rule.',
    'best-practices': 'Workload hygiene. Rules that need parameters (allowed-registries) are in no set.',
    rbac: 'Roles, ClusterRoles and bindings that grant too much. An omitted `spec.match.kinds` selects the kinds the enabled rules read, so these rules see Roles, ClusterRoles, RoleBindings and ClusterRoleBindings without listing them.',
  };
  return ruleSetNames.map((set) => `| \`${set}\` | ${notes[set] ?? ''} ${ruleSets[set].map((id) => `[${id}](#${id})`).join(', ')} |`).join('\n');
}

function ruleTable(): string {
  const lines = ['| Rule | Title | Family | Severity | Rule sets |', '|---|---|---|---|---|'];
  for (const rule of catalog) {
    lines.push(`| [\`${rule.id}\`](#${rule.id}) | ${cell(rule.title)} | ${familyTitles[rule.family]} | ${rule.severity} | ${setsOf(rule).join(', ') || '—'} |`);
  }
  return lines.join('\n');
}

/** The full text of docs/rules.md. */
export function renderRulesDoc(): string {
  const parts = [intro + ruleSetTable(), '', '## All rules', '', ruleTable(), ''];
  for (const family of Object.keys(familyTitles) as RuleFamily[]) {
    const rules = catalog.filter((rule) => rule.family === family);
    if (rules.length === 0) continue;
    parts.push(`## ${familyTitles[family]}`, '', ...rules.map(ruleSection));
  }
  return `${parts.join('\n').trimEnd()}\n`;
}

export function rulesDocPath(): string {
  return path.join(packageRoot(), 'docs', 'rules.md');
}

if (require.main === module) {
  const file = rulesDocPath();
  fs.writeFileSync(file, renderRulesDoc());
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
