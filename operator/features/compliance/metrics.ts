/**
 * Compliance metrics: each report's score and its controls by result (series go with the report),
 * and how long evaluations take.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ComplianceMetrics {
  score: Gauge<'namespace' | 'report' | 'framework'>;
  controls: Gauge<'namespace' | 'report' | 'framework' | 'result'>;
  evaluationDuration: Histogram<'framework'>;
  evaluations: Counter<'result'>;
}

export function createComplianceMetrics(registry: Registry): ComplianceMetrics {
  const registers = [registry];
  return {
    score: new Gauge({
      name: 'securestack_compliance_score',
      help: 'Compliance score of a ComplianceReport at its last evaluation, 0 to 100 (mean over evaluated controls of passed / evaluated objects).',
      labelNames: ['namespace', 'report', 'framework'],
      registers,
    }),
    controls: new Gauge({
      name: 'securestack_compliance_controls',
      help: 'Controls of a ComplianceReport at its last evaluation, by result (Pass, Fail, Manual, Skip).',
      labelNames: ['namespace', 'report', 'framework', 'result'],
      registers,
    }),
    evaluationDuration: new Histogram({
      name: 'securestack_compliance_evaluation_duration_seconds',
      help: 'Time to evaluate a ComplianceReport: listing the objects in scope, judging them and storing the results.',
      labelNames: ['framework'],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    }),
    evaluations: new Counter({
      name: 'securestack_compliance_evaluations_total',
      help: 'ComplianceReport evaluations, by result (success; invalid: the spec does not compile; error: listing or storing failed; openreports-error: evaluated, but its OpenReports could not be written).',
      labelNames: ['result'],
      registers,
    }),
  };
}
