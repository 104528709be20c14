/**
 * The built-in compliance frameworks, as versioned data (one file per framework). A new version
 * of a document is a change to its file: its `version` field says which text the controls follow.
 */
import type { BuiltinFramework, Framework } from '../framework';
import { cisKubernetesWorkloads } from './cis-kubernetes-workloads';
import { nsaCisaHardening } from './nsa-cisa-hardening';
import { pssBaseline } from './pss-baseline';
import { pssRestricted } from './pss-restricted';

export const builtinFrameworks: readonly BuiltinFramework[] = [pssBaseline, pssRestricted, cisKubernetesWorkloads, nsaCisaHardening];

const byId = new Map<string, Framework>(builtinFrameworks.map((framework) => [framework.id, framework]));

export function frameworkById(id: string): Framework | undefined {
  return byId.get(id);
}
