/**
 * The admission webhook's TLS certificates: the platform's rotating serving certificate
 * (operator/platform/tls/serving.ts) under the webhook's names: metrics
 * `securestack_webhook_certificate_*`, CA subjects `securestack-webhook-ca@<unix seconds>`
 * (docs/adr/0010).
 */
import { ServingCertificates, type CertificateMaterial, type ServingCertificatesOptions } from '../../platform/tls/serving';

export { splitPemBundle, type CertificateName, type RotationStep } from '../../platform/tls/serving';

/** What the webhook serves and what the API server must trust right now. */
export type WebhookCertificateMaterial = CertificateMaterial;

export type WebhookCertificatesOptions = Omit<ServingCertificatesOptions, 'purpose'>;

export class WebhookCertificates extends ServingCertificates {
  constructor(options: WebhookCertificatesOptions) {
    super({ ...options, purpose: 'webhook' });
  }
}
