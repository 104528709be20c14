import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, parseDuration } from '../operator/platform/config';

describe('operator configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig([], {});
    assert.equal(config.namespace, 'securestack-system');
    assert.equal(config.leaseDurationMs, 15_000);
    assert.equal(config.renewDeadlineMs, 10_000);
    assert.equal(config.retryPeriodMs, 2_000);
    assert.equal(config.workers, 4);
    assert.equal(config.metricsPort, 8080);
  });

  it('reads the environment and lets flags win', () => {
    const config = loadConfig(['--workers=8', '--metrics-port', '9090'], { SECURESTACK_WORKERS: '2', SECURESTACK_NAMESPACE: 'sec' });
    assert.equal(config.workers, 8);
    assert.equal(config.metricsPort, 9090);
    assert.equal(config.namespace, 'sec');
  });

  it('rejects a bad value with one line naming the setting', () => {
    assert.throws(() => loadConfig([], { SECURESTACK_WORKERS: 'many' }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, "invalid setting SECURESTACK_WORKERS: expected an integer between 1 and 64, got 'many'");
      return true;
    });
    assert.throws(() => loadConfig(['--lease-duration=forever'], {}), /invalid setting --lease-duration: expected a duration/);
    assert.throws(() => loadConfig([], { SECURESTACK_NAMESPACE: 'Not_A_Label' }), /SECURESTACK_NAMESPACE/);
    assert.throws(() => loadConfig(['--no-such-flag=1'], {}), /unknown flag --no-such-flag/);
  });

  it('refuses leader timings that would let a standby steal a healthy lease', () => {
    assert.throws(() => loadConfig([], { SECURESTACK_RENEW_DEADLINE: '20s' }), /SECURESTACK_RENEW_DEADLINE: must be shorter than SECURESTACK_LEASE_DURATION/);
    assert.throws(() => loadConfig([], { SECURESTACK_RETRY_PERIOD: '10s' }), /SECURESTACK_RETRY_PERIOD/);
  });

  it('runs every controller by default, or the ones listed; refuses unknown, repeated and empty entries', () => {
    assert.deepEqual(loadConfig([], {}).controllers, ['imagescan', 'scanpolicy', 'compliancereport', 'scheduledscan']);
    assert.deepEqual(loadConfig([], { SECURESTACK_CONTROLLERS: '*' }).controllers, ['imagescan', 'scanpolicy', 'compliancereport', 'scheduledscan']);
    assert.deepEqual(loadConfig(['--controllers=scheduledscan, compliancereport'], {}).controllers, ['compliancereport', 'scheduledscan']);
    for (const bad of ['cronjob', 'scheduledscan,scheduledscan', ',', 'scheduledscan,*']) {
      assert.throws(() => loadConfig([], { SECURESTACK_CONTROLLERS: bad }), /invalid setting SECURESTACK_CONTROLLERS: expected \* or a comma-separated list of imagescan, scanpolicy, compliancereport, scheduledscan/, bad);
    }
  });

  it('parses Go-style durations', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('15s'), 15_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.throws(() => parseDuration('15'));
    assert.throws(() => parseDuration('1d'));
  });
});
