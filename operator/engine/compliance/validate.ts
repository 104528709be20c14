/**
 * What makes a framework usable: control ids a report can name, bounded sizes, and checks that
 * can run (rule ids of the catalog, a vulnerability condition that says something, a reason for
 * every manual control). The built-in frameworks are held to it by tests; controls a
 * ComplianceReport defines inline can be held to it when the report is read.
 */
import { ruleById } from '../rules';
import { severities } from '../types';
import type { Control, ControlCheck, Framework } from './framework';

export const controlIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const frameworkLimits = { controlIdLength: 64, titleLength: 256, controls: 256 } as const;

function checkProblems(check: ControlCheck, ruleExists: (id: string) => boolean): string[] {
  switch (check.type) {
    case 'rules': {
      const problems = check.rules.length === 0 ? ['check names no rule'] : [];
      problems.push(...check.rules.filter((id) => !ruleExists(id)).map((id) => `check names rule "${id}", which the catalog does not have`));
      if (check.fields && (check.fields.length === 0 || check.fields.some((field) => field.trim() === ''))) problems.push('check.fields has an empty entry or none');
      return problems;
    }
    case 'vulnerabilities': {
      const { fixableAtOrAbove, maxFixAgeDays, maxScanAgeHours } = check.vulnerabilities;
      const problems: string[] = [];
      if (fixableAtOrAbove === undefined && maxScanAgeHours === undefined) problems.push('vulnerability check sets neither fixableAtOrAbove nor maxScanAgeHours');
      if (fixableAtOrAbove !== undefined && !severities.includes(fixableAtOrAbove)) problems.push(`fixableAtOrAbove "${String(fixableAtOrAbove)}" is not a severity`);
      if (maxFixAgeDays !== undefined && fixableAtOrAbove === undefined) problems.push('maxFixAgeDays needs fixableAtOrAbove');
      for (const [name, value] of [['maxFixAgeDays', maxFixAgeDays], ['maxScanAgeHours', maxScanAgeHours]] as const) {
        if (value !== undefined && !(Number.isInteger(value) && value > 0)) problems.push(`${name} must be a positive integer, not ${value}`);
      }
      return problems;
    }
    case 'manual':
      return check.reason.trim() === '' ? ['manual control gives no reason'] : [];
    case 'custom':
      // The schema itself is compiled (RE2 patterns) by compileFramework, which names the field.
      return check.message.trim() === '' ? ['custom check gives no message'] : [];
  }
}

function controlProblems(control: Control, ruleExists: (id: string) => boolean): string[] {
  const problems: string[] = [];
  if (!controlIdPattern.test(control.id) || control.id.length > frameworkLimits.controlIdLength) {
    problems.push(`id must match ${String(controlIdPattern)} and be at most ${frameworkLimits.controlIdLength} characters`);
  }
  if (control.title.trim() === '' || control.title.length > frameworkLimits.titleLength) problems.push(`title must be 1 to ${frameworkLimits.titleLength} characters`);
  for (const field of ['description', 'remediation'] as const) if (control[field].trim() === '') problems.push(`${field} is empty`);
  if (!severities.includes(control.severity)) problems.push(`severity "${String(control.severity)}" is not a severity`);
  problems.push(...checkProblems(control.check, ruleExists));
  return problems;
}

/** Every problem of the framework, each naming its control; empty when it is usable. */
export function frameworkProblems(framework: Framework, ruleExists: (id: string) => boolean = (id) => ruleById(id) !== undefined): string[] {
  const problems: string[] = [];
  const { controls } = framework;
  if (controls.length === 0 || controls.length > frameworkLimits.controls) problems.push(`${framework.id}: has ${controls.length} controls, not 1 to ${frameworkLimits.controls}`);
  const seen = new Set<string>();
  for (const control of controls) {
    if (seen.has(control.id)) problems.push(`${framework.id} ${control.id}: id used twice`);
    seen.add(control.id);
    problems.push(...controlProblems(control, ruleExists).map((problem) => `${framework.id} ${control.id}: ${problem}`));
  }
  return problems;
}
