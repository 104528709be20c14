/**
 * The per-control part of a ComplianceReport's status, kept under a byte budget whatever the
 * cluster's size: the counts always fit (256 controls at most), the examples give way. The full
 * per-object results go to the owned ConfigMaps, not here.
 */
import type { ControlResult } from '../../api/types.generated';
import type { ControlOutcome } from './evaluate';

/** Status stays under this many bytes of JSON (etcd objects are limited to 1.5 MiB, and lists of reports must stay cheap). */
export const STATUS_BUDGET_BYTES = 64 * 1024;
/** The CRD's limit on an example's message. */
const MESSAGE_MAX = 512;
/** Steps tried in order until the controls fit: examples per control, characters per message. */
const reductions: readonly { examples: number; message: number }[] = [
  { examples: 5, message: MESSAGE_MAX },
  { examples: 5, message: 200 },
  { examples: 3, message: 120 },
  { examples: 1, message: 120 },
  { examples: 0, message: 0 },
];

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

function controlResults(outcomes: readonly ControlOutcome[], examples: number, message: number): ControlResult[] {
  return outcomes.map(({ control, result, passed, failed, examples: found }) => ({
    id: control.id,
    title: truncate(control.title, 256),
    severity: control.severity,
    result,
    passed,
    failed,
    ...(examples > 0 && found.length > 0
      ? { examples: found.slice(0, examples).map((example) => ({ ...example, name: truncate(example.name, 253), message: truncate(example.message, message) })) }
      : {}),
  }));
}

/**
 * The controls as status shows them, within `budget` bytes of JSON together with `rest` (the
 * other status fields): as many examples and as much of their messages as fit.
 */
export function fitControls(outcomes: readonly ControlOutcome[], rest: object, budget = STATUS_BUDGET_BYTES): { controls: ControlResult[]; examplesCut: boolean } {
  const restBytes = Buffer.byteLength(JSON.stringify(rest));
  for (const [step, { examples, message }] of reductions.entries()) {
    const controls = controlResults(outcomes, examples, message);
    if (restBytes + Buffer.byteLength(JSON.stringify(controls)) <= budget) return { controls, examplesCut: step > 0 };
  }
  // Without examples, 256 controls of 256-character titles take about 90 KiB: titles give way last.
  const controls = controlResults(outcomes, 0, 0).map((control) => ({ ...control, title: truncate(control.title ?? '', 64) }));
  return { controls, examplesCut: true };
}
