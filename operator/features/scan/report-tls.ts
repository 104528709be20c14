/**
 * The report endpoint's serving certificate: the platform's rotating certificate
 * (operator/platform/tls/serving.ts) in its own Secret (SECURESTACK_REPORT_CERT_SECRET), with a
 * propagation delay long enough for the one client that learns the trust bundle only once.
 *
 * A scan Job gets the bundle in its environment when it is created and keeps it until it ends.
 * During a CA rotation the serving certificate moves to the new CA one propagation delay after
 * the new CA joined the bundle, and the old CA leaves one delay later. So a Job created just
 * before the new CA joined still trusts what is served as long as it lives shorter than the delay:
 * the delay covers the longest Job (the CRD caps spec.timeout, i.e. activeDeadlineSeconds, at 6h)
 * plus the refresh interval a new leader's view of the Secret may lag behind. A rotation then
 * takes about 13 hours, once every few years; serving renewals (same CA) need no wait at all.
 */
import type { Registry } from 'prom-client';
import type { OperatorConfig } from '../../platform/config';
import type { KubeClient } from '../../platform/kube/client';
import type { Logger } from '../../platform/log';
import { installationOwner } from '../../platform/kube/owner';
import type { EventRecorder } from '../../platform/runtime/events';
import { ServingCertificates } from '../../platform/tls/serving';

const dayMs = 86_400_000;
/** The CRD's upper bound for ImageScan spec.timeout, which becomes the Job's activeDeadlineSeconds. */
export const maxScanJobLifetimeMs = 6 * 3_600_000;
/** A Job's pod gets a termination grace period after the deadline, and the Job controller some slack. */
const jobLifetimeMarginMs = 10 * 60_000;
const refreshIntervalMs = 60_000;

export interface ReportCertificateDeps {
  config: OperatorConfig;
  client: KubeClient;
  log: Logger;
  registry?: Registry;
  events?: EventRecorder;
}

/** Timings of the report certificate; overridable for tests with second-long certificates. */
export interface ReportCertificateTimings {
  caValidityMs: number;
  servingValidityMs: number;
  refreshIntervalMs: number;
  propagationDelayMs: number;
}

export const defaultReportTimings: ReportCertificateTimings = {
  caValidityMs: 3650 * dayMs,
  servingValidityMs: 365 * dayMs,
  refreshIntervalMs,
  propagationDelayMs: maxScanJobLifetimeMs + jobLifetimeMarginMs + refreshIntervalMs,
};

/** Not loaded yet: call load() (every replica), start() (every replica) and rotate on the leader. */
export function reportCertificates(deps: ReportCertificateDeps, timings: ReportCertificateTimings = defaultReportTimings): ServingCertificates {
  return new ServingCertificates({
    purpose: 'report',
    client: deps.client,
    namespace: deps.config.namespace,
    secretName: deps.config.reportCertSecret,
    hosts: reportHosts(deps.config),
    log: deps.log.child({ module: 'report-certs' }),
    registry: deps.registry,
    events: deps.events,
    owner: installationOwner(deps.client, deps.config.webhookOwnerClusterRole),
    ...timings,
  });
}

/** Names the report certificate must cover: the Service, and the host of the configured URL. */
export function reportHosts(config: OperatorConfig): string[] {
  const service = `securestack-reports.${config.namespace}.svc`;
  return [...new Set([new URL(config.reportURL).hostname.replace(/^\[|\]$/g, ''), service, `${service}.cluster.local`, 'localhost', '127.0.0.1'])];
}
