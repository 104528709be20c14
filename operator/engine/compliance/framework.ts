/**
 * The shape of a compliance framework: versioned data, one file per framework under
 * ./frameworks, and the same shape for the controls a ComplianceReport defines inline. A control
 * says how it is checked: by rules of the catalog (the same pure engine admission and the audit
 * run), by what ImageScans know about the images in scope, or not at all from the API (manual).
 */
import type { Severity } from '../types';

/**
 * Vulnerability conditions over the ImageScan results of the images the in-scope workloads run.
 * Every field that is set must hold for an image to pass.
 */
export interface VulnerabilityCheck {
  /** No vulnerability with a fixed version available at this severity or above. */
  fixableAtOrAbove?: Severity;
  /**
   * With fixableAtOrAbove: only fixable vulnerabilities whose advisory was published more than
   * this many days ago fail (a patch window). Trivy's data has no date for the fix itself; the
   * advisory's publication date is the earliest a fix can have appeared.
   */
  maxFixAgeDays?: number;
  /** Every image has a completed ImageScan whose scan finished within this many hours. */
  maxScanAgeHours?: number;
}

export type ControlCheck =
  /**
   * Fails an object when any of these catalog rules flags it. With `fields`, only findings at a
   * field of one of these names count: for a control that covers part of what a rule reports
   * (CIS 5.2.3 is hostPID alone, disallow-host-namespaces reports hostNetwork and hostIPC too).
   */
  | { type: 'rules'; rules: readonly string[]; fields?: readonly string[] }
  /** Fails an image (counted per workload that runs it) that breaks the condition. */
  | { type: 'vulnerabilities'; vulnerabilities: VulnerabilityCheck }
  /** Nothing the API shows decides it: always reported Manual, never Pass. */
  | { type: 'manual'; reason: string }
  /**
   * A team's own JSON Schema check (a custom framework's control), with the shape of a ScanPolicy
   * custom rule: over the whole object of each kind that carries a pod, or over each container.
   */
  | { type: 'custom'; message: string; target: 'Object' | 'Container'; schema: Record<string, unknown> };

export interface Control {
  /** Unique within the framework, as the framework's own document numbers it (5.2.2, pss-baseline-privileged). */
  id: string;
  title: string;
  severity: Severity;
  description: string;
  remediation: string;
  check: ControlCheck;
  /** Where the control is defined: a section of the framework's document or a URL. */
  reference?: string;
}

export type BuiltinFrameworkId = 'pss-baseline' | 'pss-restricted' | 'cis-kubernetes-workloads' | 'nsa-cisa-hardening';

export interface Framework {
  id: string;
  title: string;
  /** Version of the framework's document the controls follow (for example CIS 1.10.0). */
  version: string;
  /** The document the controls come from. */
  source: string;
  description: string;
  controls: readonly Control[];
}

/** A framework SecureStack ships (./frameworks). */
export interface BuiltinFramework extends Framework {
  id: BuiltinFrameworkId;
}

/** Whether a finding of one of the control's rules, at `field`, counts against the control. */
export function findingCounts(check: Extract<ControlCheck, { type: 'rules' }>, field: string): boolean {
  if (!check.fields) return true;
  return check.fields.some((name) => field === name || field.endsWith(`.${name}`));
}
