// User patterns run in bounded time: regular expressions on RE2 (linear), globs on a two-pointer
// matcher. The inputs below take a backtracking engine exponential (or high-polynomial) time; if
// the code fell back to RegExp these tests would hang the process instead of finishing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileLinearRegExp, UnsupportedPatternError, wildcardMatch, wildcardMatcher } from '../operator/platform/patterns';

describe('linear-time regular expressions', () => {
  it('answers a catastrophic-backtracking pattern on a long input', () => {
    const nested = compileLinearRegExp('^(a+)+$');
    assert.equal(nested.test(`${'a'.repeat(40)}b`), false);
    assert.equal(nested.test('a'.repeat(100_000)), true);
    assert.equal(compileLinearRegExp('^(a|aa)*c$').test('a'.repeat(100_000)), false);
  });

  it('matches anywhere unless anchored, like JSON Schema pattern and RegExp.test', () => {
    assert.equal(compileLinearRegExp('team').test('my-team-a'), true);
    assert.equal(compileLinearRegExp('^team').test('my-team-a'), false);
    assert.equal(compileLinearRegExp('^[a-z0-9-]{1,63}$').test('a'.repeat(63)), true);
    assert.equal(compileLinearRegExp('^[a-z0-9-]{1,63}$').test('a'.repeat(64)), false);
    assert.equal(compileLinearRegExp('^é+$').test('éé'), true, 'Unicode, as ajv asks with the u flag');
  });

  it('refuses what RE2 cannot run in linear time, naming the pattern', () => {
    for (const pattern of ['(?=a)b', '(?<!x)y', '(a)\\1', '(unclosed']) {
      assert.throws(() => compileLinearRegExp(pattern), (err: unknown) => {
        assert.ok(err instanceof UnsupportedPatternError);
        assert.ok(err.message.startsWith(`pattern ${JSON.stringify(pattern)} cannot run in linear time`), err.message);
        return true;
      });
    }
  });
});

describe('wildcard globs', () => {
  const cases: [string, string, boolean][] = [
    ['team-*', 'team-a', true],
    ['team-*', 'team-', true],
    ['team-*', 'team', false],
    ['team-*', 'xteam-a', false],
    ['*', '', true],
    ['', '', true],
    ['', 'a', false],
    ['a', 'a', true],
    ['a', 'ab', false],
    ['ab', 'a', false],
    ['*.example.com', 'registry.example.com', true],
    ['*.example.com', 'example.com', false],
    ['registry.example.com/*', 'registry.example.com/app:1', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'acb', false],
    ['*a*', 'bab', true],
    ['**', 'anything', true],
    ['a.c', 'abc', false], // `.` is literal
    ['a+', 'aa', false], // so is `+`
    ['[a]', '[a]', true],
  ];
  for (const [pattern, value, expected] of cases) {
    it(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(value)}`, () => {
      assert.equal(wildcardMatch(pattern, value), expected);
    });
  }

  it('stays bounded on many stars against a long near-miss (a backtracking RegExp would not)', () => {
    assert.equal(wildcardMatch(`${'*a'.repeat(30)}*b`, 'a'.repeat(5_000)), false);
    assert.equal(wildcardMatch(`${'*a'.repeat(30)}*b`, `${'a'.repeat(5_000)}b`), true);
  });

  it('any of several globs', () => {
    const matcher = wildcardMatcher(['team-*', 'kube-system']);
    assert.equal(matcher('team-x'), true);
    assert.equal(matcher('kube-system'), true);
    assert.equal(matcher('kube-public'), false);
    assert.equal(wildcardMatcher([])('x'), false);
  });
});
