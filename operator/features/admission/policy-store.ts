/**
 * The ScanPolicies in force, compiled once per generation from a watch (every replica). Admission
 * reads `ready()` and never the API server. A policy that does not compile is kept out, with its
 * errors, which the leader's ScanPolicy reconciler reports in status.
 */
import type { ScanPolicy } from '../../api/types.generated';
import { compilePolicy, type CompiledPolicy, type CompileResult } from '../../engine/compile';

interface StoredPolicy {
  uid: string;
  generation: number;
  result: CompileResult;
}

export class PolicyStore {
  private readonly policies = new Map<string, StoredPolicy>();
  private readyList: readonly CompiledPolicy[] = [];
  private readonly listeners: (() => void)[] = [];

  observe(policy: ScanPolicy, deleted: boolean): void {
    const name = policy.metadata.name ?? '';
    const known = this.policies.get(name);
    if (deleted) {
      if (!this.policies.delete(name)) return;
    } else {
      // Status writes change resourceVersion but not generation: recompile only for a new spec.
      const uid = policy.metadata.uid ?? '';
      const generation = policy.metadata.generation ?? 0;
      if (known?.uid === uid && known.generation === generation) return;
      this.policies.set(name, { uid, generation, result: compilePolicy(policy) });
    }
    this.readyList = [...this.policies.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .flatMap(([, stored]) => (stored.result.ok ? [stored.result.policy] : []));
    for (const listener of this.listeners) listener();
  }

  /** Compiled policies, in name order. */
  ready(): readonly CompiledPolicy[] {
    return this.readyList;
  }

  /** The compile result for one policy, if the store has seen it. */
  result(name: string): CompileResult | undefined {
    return this.policies.get(name)?.result;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }
}
