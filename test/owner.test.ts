// The installation's owner (operator/platform/kube/owner.ts): what the operator makes for itself
// names the chart's ClusterRole, so `helm uninstall` lets the garbage collector remove it.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { installationOwner, withOwner } from '../operator/platform/kube/owner';

describe('installation owner', () => {
  const owner = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'rel-securestack', uid: 'u1' };

  it('adds the owner once, keeping the object\'s other owners', () => {
    const other = { apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'u2' };
    assert.deepEqual(withOwner(undefined, owner), [owner]);
    assert.deepEqual(withOwner([other], owner), [other, owner]);
    assert.deepEqual(withOwner([owner], owner), [owner]);
    assert.equal(withOwner(undefined, undefined), undefined);
    assert.deepEqual(withOwner([other], undefined), [other]);
  });

  it('looks the ClusterRole up until it exists, then answers from memory; no name, no lookup', async () => {
    const asked: string[] = [];
    let uid: string | undefined;
    const lookup = installationOwner({ uidOf: (_v: string, kind: string, name: string) => { asked.push(`${kind}/${name}`); return Promise.resolve(uid); } }, 'rel-securestack');
    assert.equal(await lookup(), undefined);
    uid = 'u1';
    assert.deepEqual(await lookup(), owner);
    uid = 'changed';
    assert.deepEqual(await lookup(), owner);
    assert.deepEqual(asked, ['ClusterRole/rel-securestack', 'ClusterRole/rel-securestack']);
    const none = installationOwner({ uidOf: () => Promise.reject(new Error('must not be called')) }, '');
    assert.equal(await none(), undefined);
  });
});
