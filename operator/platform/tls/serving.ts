/**
 * A rotating serving certificate for the operator's HTTPS servers (the admission webhook, the
 * scan report endpoint): a CA and a serving certificate the operator manages itself, in one
 * Secret in its namespace shared by every replica (docs/adr/0010). One instance per Secret.
 *
 * Every replica loads the Secret and re-reads it on a timer, so a request never waits on the API,
 * and pushes a changed key pair to every attached server with setSecureContext (no restart, open
 * connections keep theirs). Only the leader writes it (rotateIfDue), with optimistic concurrency.
 * A CA rotation goes
 *   (a) new CA added to the trust bundle, serving certificate still signed by the old CA;
 *   (b) after the propagation delay, the serving certificate is re-issued by the new CA;
 *   (c) after another propagation delay, the old CA is dropped from the bundle,
 * so a client that learnt the bundle at most a propagation delay ago always trusts whatever
 * certificate any replica may be serving.
 *
 * With cert-manager (`selfManaged: false`) the Secret is only read, never written.
 */
import { X509Certificate } from 'node:crypto';
import type { Server as TlsServer } from 'node:tls';
import type { V1Secret } from '@kubernetes/client-node';
import { withOwner, type OwnerLookup } from '../kube/owner';
import { Counter, Gauge, type Registry } from 'prom-client';
import { isAlreadyExists, isConflict, type KubeClient } from '../kube/client';
import type { Logger } from '../log';
import type { EventRecorder } from '../runtime/events';
import { coversHosts, createCaValidFor, issueServingCertValidFor, renewalDue, validityOf, type KeyPairPem } from './certs';

const dayMs = 86_400_000;

/** What the TLS server serves and what the API server must trust right now. */
export interface CertificateMaterial {
  certPem: string;
  keyPem: string;
  /** Every CA that must be trusted now: two during a CA rotation. */
  caBundlePem: string;
}

export type CertificateName = 'ca' | 'serving';

/** One thing rotateIfDue changed in the Secret. */
export type RotationStep =
  /** Serving certificate renewed by the CA that already signed it (due, or hosts changed). */
  | 'serving-renewed'
  /** (a) A new CA was added to the trust bundle. */
  | 'ca-added'
  /** (b) The serving certificate was re-issued by the new CA. */
  | 'serving-reissued'
  /** (c) The old CA was dropped from the trust bundle. */
  | 'ca-dropped'
  /** The CA had expired or the Secret was unusable: everything was issued afresh. */
  | 'reset';

export interface ServingCertificatesOptions {
  /**
   * What the certificate serves, lower-case letters (`webhook`, `report`): names the metrics
   * (`securestack_<purpose>_certificate_*`), the CA subjects, log lines and Events.
   */
  purpose: string;
  client: KubeClient;
  namespace: string;
  /** The Secret holding the CA(s) and the serving certificate. */
  secretName: string;
  /** DNS names and IP addresses the serving certificate must cover. */
  hosts: readonly string[];
  /** The installation's owner, named by the Secret so uninstalling removes it (platform/kube/owner.ts). */
  owner?: OwnerLookup;
  log: Logger;
  /** Metrics are registered here (or reused when another instance already registered them). */
  registry?: Registry;
  /** Best-effort Events on the Secret for each rotation. */
  events?: EventRecorder;
  /** false: the Secret is written by cert-manager; only read tls.crt, tls.key and ca.crt. */
  selfManaged?: boolean;
  caValidityMs?: number;
  servingValidityMs?: number;
  /** Renew a certificate once no more than this fraction of its lifetime is left. */
  renewRemainingFraction?: number;
  /**
   * How long a change of the trust bundle or of the serving certificate needs to reach every
   * replica and every client (for the webhook: the API server's configuration cache; for the
   * report endpoint: every scan Job, which learns the bundle once, when it is created). Must
   * cover refreshIntervalMs and a leader failover.
   */
  propagationDelayMs?: number;
  /** How often every replica re-reads the Secret. */
  refreshIntervalMs?: number;
}

interface Settings {
  selfManaged: boolean;
  caValidityMs: number;
  servingValidityMs: number;
  renewRemainingFraction: number;
  propagationDelayMs: number;
  refreshIntervalMs: number;
}

/** What the self-managed Secret holds. */
interface ManagedState {
  /** The newest CA; it signs once it has been published for the propagation delay. */
  ca: KeyPairPem;
  /** The CA being retired; trusted until no serving certificate it signed can be in use. */
  previous?: KeyPairPem;
  serving: KeyPairPem;
  /** When `ca` was added next to `previous` (ms). */
  caAddedAt?: number;
  /** When the serving certificate was re-issued by `ca` during a rotation (ms). */
  servingReissuedAt?: number;
}

// Secret layout. Timestamps are annotations: not secret, and readable with kubectl.
const keys = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  previousCert: 'ca-previous.crt',
  previousKey: 'ca-previous.key',
  servingCert: 'tls.crt',
  servingKey: 'tls.key',
} as const;
const caAddedAtAnnotation = 'securestack.io/ca-added-at';
const servingReissuedAtAnnotation = 'securestack.io/serving-reissued-at';
const writeAttempts = 5;
const managedByLabel = 'app.kubernetes.io/managed-by';
const managedBy = 'securestack';

export class ServingCertificates {
  private readonly settings: Settings;
  private readonly metrics: CertificateMetrics | undefined;
  private readonly listeners = new Set<(material: CertificateMaterial) => void>();
  private material: CertificateMaterial | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing = false;

  constructor(private readonly options: ServingCertificatesOptions) {
    this.settings = settingsOf(options);
    this.metrics = options.registry ? certificateMetrics(options.registry, options.purpose) : undefined;
  }

  get namespace(): string {
    return this.options.namespace;
  }

  get secretName(): string {
    return this.options.secretName;
  }

  /** How often replicas re-read the Secret; the leader's rotation check runs as often. */
  get refreshIntervalMs(): number {
    return this.settings.refreshIntervalMs;
  }

  private get secretRef(): string {
    return `${this.options.namespace}/${this.options.secretName}`;
  }

  /**
   * Reads the Secret; a self-managed one is created (or repaired) when missing or unusable, with
   * certificates valid from `now`.
   */
  async load(now = new Date()): Promise<CertificateMaterial> {
    if (!this.settings.selfManaged) {
      this.adopt(externalMaterial(await this.readSecret(), this.secretRef));
      return this.current();
    }
    for (let attempt = 0; attempt < writeAttempts; attempt++) {
      const secret = await this.readSecret();
      const state = secret && managedState(secret);
      if (state) {
        this.adopt(materialOf(state));
        return this.current();
      }
      this.checkOurs(secret);
      if (await this.write(secret, await this.freshState(now))) return this.current();
    }
    throw new Error(`could not create Secret ${this.secretRef}: it kept changing under us`);
  }

  /** Re-reads the Secret; true when what is served or trusted changed. Keeps the old material on error. */
  async refresh(): Promise<boolean> {
    const secret = await this.readSecret();
    const material = this.settings.selfManaged ? managedMaterial(secret) : externalMaterial(secret, this.secretRef);
    if (!material) return false;
    return this.adopt(material);
  }

  /** Re-reads the Secret every refreshIntervalMs until stop(). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.refreshQuietly(), this.settings.refreshIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** What to serve and trust now. Throws before the first successful load(). */
  current(): CertificateMaterial {
    if (!this.material) throw new Error(`${this.options.purpose} certificates from Secret ${this.secretRef} are not loaded yet`);
    return this.material;
  }

  /**
   * Serves the current key pair on `server` and every later one: new TLS handshakes get the new
   * certificate, open connections keep theirs (none is dropped). Returns a detach function.
   */
  attach(server: TlsServer): () => void {
    const { certPem, keyPem } = this.current();
    server.setSecureContext({ cert: certPem, key: keyPem });
    return this.onChange((material) => server.setSecureContext({ cert: material.certPem, key: material.keyPem }));
  }

  /** Called whenever the served certificate, its key or the trust bundle changes. Returns an unsubscribe function. */
  onChange(listener: (material: CertificateMaterial) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Leader only, periodically: renews what is due and moves a CA rotation one step on. Returns
   * what changed (empty when nothing was due). Never writes in cert-manager mode.
   */
  async rotateIfDue(now = new Date()): Promise<RotationStep[]> {
    if (!this.settings.selfManaged) return [];
    for (let attempt = 0; attempt < writeAttempts; attempt++) {
      const secret = await this.readSecret();
      const state = secret && managedState(secret);
      if (!state) this.checkOurs(secret);
      const plan = state ? await this.plan(state, now) : { state: await this.freshState(now), steps: ['reset' as const] };
      if (plan.steps.length === 0 && state && sameState(state, plan.state)) {
        this.adopt(materialOf(state));
        return [];
      }
      if (await this.write(secret, plan.state)) {
        if (plan.steps.length > 0) this.recordRotation(plan.steps, plan.state);
        return plan.steps;
      }
    }
    throw new Error(`could not update Secret ${this.secretRef}: it kept changing under us`);
  }

  // ---- planning -----------------------------------------------------------------------------

  private async freshState(now: Date): Promise<ManagedState> {
    const ca = await this.newCa(now);
    return { ca, serving: await this.issue(ca, now) };
  }

  /** The next state of the Secret at `now`: at most one CA rotation step, then serving renewal. */
  private async plan(state: ManagedState, now: Date): Promise<{ state: ManagedState; steps: RotationStep[] }> {
    if (expired(state.ca.certPem, now)) {
      this.options.log.warn({ secret: this.secretRef }, `${this.options.purpose} CA expired: issuing a new CA; clients refuse the server until they have the new bundle`);
      return { state: await this.freshState(now), steps: ['reset'] };
    }
    const next: ManagedState = { ...state };
    const caStep = next.previous ? await this.continueCaRotation(next, now) : await this.startCaRotationIfDue(next, now);
    const steps: RotationStep[] = caStep ? [caStep] : [];
    const servingDue = renewalDue(next.serving.certPem, now, this.settings.renewRemainingFraction) || !coversHosts(next.serving.certPem, this.options.hosts);
    if (caStep !== 'serving-reissued' && caStep !== 'serving-renewed' && servingDue) {
      next.serving = await this.issue(this.signer(next, now), now);
      steps.push('serving-renewed');
    }
    return { state: next, steps };
  }

  /** (a): a new CA joins the bundle; the serving certificate stays with the old one for now. */
  private async startCaRotationIfDue(next: ManagedState, now: Date): Promise<RotationStep | undefined> {
    if (!this.caRenewalDue(next.ca.certPem, now)) return undefined;
    next.previous = next.ca;
    next.ca = await this.newCa(now);
    next.caAddedAt = now.getTime();
    return 'ca-added';
  }

  /** (b) once the new CA has propagated, re-issue by it; (c) once that has propagated, drop the old CA. */
  private async continueCaRotation(next: ManagedState, now: Date): Promise<RotationStep | undefined> {
    const t = now.getTime();
    // A timestamp lost (e.g. someone edited the Secret) restarts its wait: never shortens it.
    next.caAddedAt ??= t;
    const signer = this.signer(next, now);
    if (!issuedBy(next.serving.certPem, signer.certPem)) {
      next.serving = await this.issue(signer, now);
      if (signer !== next.ca) return 'serving-renewed';
      next.servingReissuedAt = t;
      return 'serving-reissued';
    }
    if (signer !== next.ca) return undefined;
    next.servingReissuedAt ??= t;
    const previousExpired = next.previous !== undefined && expired(next.previous.certPem, now);
    if (t < next.servingReissuedAt + this.settings.propagationDelayMs && !previousExpired) return undefined;
    next.previous = next.caAddedAt = next.servingReissuedAt = undefined;
    return 'ca-dropped';
  }

  /** The newest CA that every replica and the API server are known to trust by now. */
  private signer(state: ManagedState, now: Date): KeyPairPem {
    const { previous, caAddedAt } = state;
    if (!previous || expired(previous.certPem, now)) return state.ca;
    return now.getTime() >= (caAddedAt ?? now.getTime()) + this.settings.propagationDelayMs ? state.ca : previous;
  }

  /** Due at the configured fraction, and always early enough to finish both propagation waits. */
  private caRenewalDue(caPem: string, now: Date): boolean {
    const { notAfter } = validityOf(caPem);
    return renewalDue(caPem, now, this.settings.renewRemainingFraction) || now.getTime() >= notAfter - 3 * this.settings.propagationDelayMs;
  }

  private newCa(now: Date): Promise<KeyPairPem> {
    // A distinct subject per CA, as kube's own self-signed CAs do: clients that index issuers by
    // name then never mix up the old and the new CA.
    return createCaValidFor(`securestack-${this.options.purpose}-ca@${Math.floor(now.getTime() / 1000)}`, this.settings.caValidityMs, now);
  }

  private issue(ca: KeyPairPem, now: Date): Promise<KeyPairPem> {
    return issueServingCertValidFor(ca, this.options.hosts, this.settings.servingValidityMs, now);
  }

  // ---- reading and writing ------------------------------------------------------------------

  /** An unusable Secret is only replaced when SecureStack wrote it: never clobber cert-manager's. */
  private checkOurs(secret: V1Secret | undefined): void {
    if (secret && secret.metadata?.labels?.[managedByLabel] !== managedBy) {
      throw new Error(`Secret ${this.secretRef} lacks the self-managed CA (ca.crt, ca.key, tls.crt, tls.key) and was not created by SecureStack; delete it, or use cert-manager mode if cert-manager writes it`);
    }
  }

  private readSecret(): Promise<V1Secret | undefined> {
    return this.options.client.getSecret(this.options.namespace, this.options.secretName);
  }

  /** Creates or replaces (with the read resourceVersion) the Secret; false when someone else wrote first. */
  private async write(current: V1Secret | undefined, state: ManagedState): Promise<boolean> {
    const { client, namespace } = this.options;
    const body = secretBody(this.options.secretName, this.options.purpose, state, current);
    body.metadata = { ...body.metadata, ownerReferences: withOwner(current?.metadata?.ownerReferences, await this.options.owner?.().catch(() => undefined)) };
    try {
      const written = current ? await client.replaceSecret(namespace, body) : await client.createSecret(namespace, body);
      this.adopt(materialOf(managedState(written) ?? state));
      return true;
    } catch (err) {
      if (isConflict(err) || isAlreadyExists(err)) return false;
      throw err;
    }
  }

  /** Takes new material; notifies listeners and updates the expiry gauges when it changed. */
  private adopt(material: CertificateMaterial): boolean {
    const before = this.material;
    if (before && before.certPem === material.certPem && before.keyPem === material.keyPem && before.caBundlePem === material.caBundlePem) return false;
    this.material = material;
    this.metrics?.expiry.set({ certificate: 'serving' }, validityOf(material.certPem).notAfter / 1000);
    this.metrics?.expiry.set({ certificate: 'ca' }, Math.min(...splitPemBundle(material.caBundlePem).map((pem) => validityOf(pem).notAfter)) / 1000);
    for (const listener of this.listeners) {
      try {
        listener(material);
      } catch (err) {
        this.options.log.error({ secret: this.secretRef, err: errorText(err) }, `${this.options.purpose} certificate listener failed`);
      }
    }
    return true;
  }

  private async refreshQuietly(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      await this.refresh();
    } catch (err) {
      // The last good certificates keep being served; the next tick tries again.
      this.options.log.warn({ secret: this.secretRef, err: errorText(err) }, `could not re-read ${this.options.purpose} certificates`);
    } finally {
      this.refreshing = false;
    }
  }

  private recordRotation(steps: RotationStep[], state: ManagedState): void {
    if (steps.includes('ca-added') || steps.includes('reset')) this.metrics?.rotations.inc({ certificate: 'ca' });
    if (steps.some((step) => step === 'serving-renewed' || step === 'serving-reissued' || step === 'reset')) this.metrics?.rotations.inc({ certificate: 'serving' });
    const servingNotAfter = new Date(validityOf(state.serving.certPem).notAfter).toISOString();
    const caNotAfter = new Date(validityOf(state.ca.certPem).notAfter).toISOString();
    this.options.log.info({ secret: this.secretRef, steps, servingNotAfter, caNotAfter, trustedCas: state.previous ? 2 : 1 }, `rotated ${this.options.purpose} certificates`);
    const { events } = this.options;
    if (events) {
      const object = { apiVersion: 'v1', kind: 'Secret', metadata: { name: this.options.secretName, namespace: this.options.namespace } };
      void events.record(object, 'Normal', 'CertificateRotated', `${this.options.purpose} certificates: ${steps.join(', ')}; serving certificate valid until ${servingNotAfter}`, this.options.log);
    }
  }
}

// ---- Secret (de)serialisation ---------------------------------------------------------------

function decode(secret: V1Secret | undefined, key: string): string | undefined {
  const value = secret?.data?.[key];
  return value ? Buffer.from(value, 'base64').toString('utf8') : undefined;
}

function pairOf(secret: V1Secret, certKey: string, keyKey: string): KeyPairPem | undefined {
  const certPem = decode(secret, certKey);
  const keyPem = decode(secret, keyKey);
  return certPem && keyPem && parses(certPem) ? { certPem, keyPem } : undefined;
}

function timestamp(secret: V1Secret, annotation: string): number | undefined {
  const value = Date.parse(secret.metadata?.annotations?.[annotation] ?? '');
  return Number.isNaN(value) ? undefined : value;
}

/** The self-managed state, or undefined when the Secret lacks a usable CA or serving pair. */
function managedState(secret: V1Secret): ManagedState | undefined {
  const ca = pairOf(secret, keys.caCert, keys.caKey);
  const serving = pairOf(secret, keys.servingCert, keys.servingKey);
  if (!ca || !serving) return undefined;
  const previous = pairOf(secret, keys.previousCert, keys.previousKey);
  return previous
    ? { ca, serving, previous, caAddedAt: timestamp(secret, caAddedAtAnnotation), servingReissuedAt: timestamp(secret, servingReissuedAtAnnotation) }
    : { ca, serving };
}

function managedMaterial(secret: V1Secret | undefined): CertificateMaterial | undefined {
  const state = secret && managedState(secret);
  return state && materialOf(state);
}

function materialOf(state: ManagedState): CertificateMaterial {
  const cas = state.previous ? [state.ca.certPem, state.previous.certPem] : [state.ca.certPem];
  return { certPem: state.serving.certPem, keyPem: state.serving.keyPem, caBundlePem: cas.map(normalizePem).join('') };
}

/** cert-manager's layout: tls.crt (possibly a chain), tls.key, and ca.crt as the bundle to trust. */
function externalMaterial(secret: V1Secret | undefined, ref: string): CertificateMaterial {
  const certPem = decode(secret, keys.servingCert);
  const keyPem = decode(secret, keys.servingKey);
  const caBundlePem = decode(secret, keys.caCert);
  if (!certPem || !keyPem || !caBundlePem || !parses(certPem) || splitPemBundle(caBundlePem).length === 0) {
    throw new Error(`Secret ${ref} has no usable tls.crt, tls.key and ca.crt yet (is the cert-manager Certificate Ready, and does its issuer fill ca.crt?)`);
  }
  return { certPem, keyPem, caBundlePem };
}

function secretBody(name: string, purpose: string, state: ManagedState, current: V1Secret | undefined): V1Secret {
  const encode = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
  const data: Record<string, string> = {
    [keys.caCert]: encode(state.ca.certPem),
    [keys.caKey]: encode(state.ca.keyPem),
    [keys.servingCert]: encode(state.serving.certPem),
    [keys.servingKey]: encode(state.serving.keyPem),
  };
  const annotations = { ...(current?.metadata?.annotations ?? {}) };
  delete annotations[caAddedAtAnnotation];
  delete annotations[servingReissuedAtAnnotation];
  if (state.previous) {
    data[keys.previousCert] = encode(state.previous.certPem);
    data[keys.previousKey] = encode(state.previous.keyPem);
    if (state.caAddedAt !== undefined) annotations[caAddedAtAnnotation] = new Date(state.caAddedAt).toISOString();
    if (state.servingReissuedAt !== undefined) annotations[servingReissuedAtAnnotation] = new Date(state.servingReissuedAt).toISOString();
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    // resourceVersion comes along from the read: a stale write fails with 409.
    metadata: {
      ...(current?.metadata ?? {}),
      name,
      labels: { ...(current?.metadata?.labels ?? {}), [managedByLabel]: managedBy, 'app.kubernetes.io/component': `${purpose}-certificates` },
      annotations,
    },
    data,
  };
}

function sameState(a: ManagedState, b: ManagedState): boolean {
  return (
    a.ca.certPem === b.ca.certPem &&
    a.serving.certPem === b.serving.certPem &&
    a.previous?.certPem === b.previous?.certPem &&
    a.caAddedAt === b.caAddedAt &&
    a.servingReissuedAt === b.servingReissuedAt
  );
}

// ---- certificates -----------------------------------------------------------------------------

/** The PEM blocks of a bundle, each ending in a newline. */
export function splitPemBundle(pem: string): string[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(normalizePem);
}

function normalizePem(pem: string): string {
  return `${pem.trim()}\n`;
}

function parses(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

function expired(certPem: string, now: Date): boolean {
  return now.getTime() >= validityOf(certPem).notAfter;
}

/** True when the CA's key signed the certificate. */
function issuedBy(certPem: string, caPem: string): boolean {
  try {
    return new X509Certificate(certPem).verify(new X509Certificate(caPem).publicKey);
  } catch {
    return false;
  }
}

// ---- settings and metrics -------------------------------------------------------------------

function settingsOf(options: ServingCertificatesOptions): Settings {
  // It becomes part of metric names: a closed, simple vocabulary.
  if (!/^[a-z]+$/.test(options.purpose)) throw new Error('purpose must be lower-case letters');
  const settings: Settings = {
    selfManaged: options.selfManaged ?? true,
    caValidityMs: options.caValidityMs ?? 3650 * dayMs,
    servingValidityMs: options.servingValidityMs ?? 365 * dayMs,
    renewRemainingFraction: options.renewRemainingFraction ?? 1 / 3,
    propagationDelayMs: options.propagationDelayMs ?? 5 * 60_000,
    refreshIntervalMs: options.refreshIntervalMs ?? 60_000,
  };
  if (!(settings.renewRemainingFraction > 0 && settings.renewRemainingFraction < 1)) throw new Error('renewRemainingFraction must be between 0 and 1');
  if (!(settings.refreshIntervalMs > 0)) throw new Error('refreshIntervalMs must be positive');
  if (settings.selfManaged && !(settings.propagationDelayMs > settings.refreshIntervalMs)) {
    // Otherwise a replica could still serve a certificate the API server no longer trusts.
    throw new Error('propagationDelayMs must be longer than refreshIntervalMs');
  }
  if (settings.servingValidityMs <= 0 || settings.caValidityMs <= 0) throw new Error('validities must be positive');
  if (settings.selfManaged && settings.caValidityMs <= 3 * settings.propagationDelayMs) {
    // A CA rotation needs two propagation delays plus margin; a shorter CA would be due at birth.
    throw new Error('caValidityMs must be longer than three propagationDelayMs');
  }
  return settings;
}

interface CertificateMetrics {
  expiry: Gauge<'certificate'>;
  rotations: Counter<'certificate'>;
}

/** Registers the metrics once per registry and purpose; replicas in one process (tests) share them. */
function certificateMetrics(registry: Registry, purpose: string): CertificateMetrics {
  const expiryMetric = `securestack_${purpose}_certificate_expiry_timestamp_seconds`;
  const rotationsMetric = `securestack_${purpose}_certificate_rotations_total`;
  const expiry = registry.getSingleMetric(expiryMetric);
  const rotations = registry.getSingleMetric(rotationsMetric);
  if (expiry instanceof Gauge && rotations instanceof Counter) {
    return { expiry, rotations };
  }
  return {
    expiry: new Gauge({
      name: expiryMetric,
      help: `When the ${purpose} certificate expires (unix seconds): the serving certificate, or the earliest-expiring trusted CA.`,
      labelNames: ['certificate'],
      registers: [registry],
    }),
    rotations: new Counter({
      name: rotationsMetric,
      help: `${purpose} certificates issued by rotation (ca: a new CA added; serving: a serving certificate renewed or re-issued).`,
      labelNames: ['certificate'],
      registers: [registry],
    }),
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Listens with an HTTPS server on the rotating certificate: bounded request and header times (a
 * slow client cannot hold a connection), the key pair swapped in place on every renewal.
 */
export function listenWithRotatingCertificate(
  server: import('node:https').Server,
  options: { port: number; host: string; tls: Pick<ServingCertificates, 'attach'>; requestTimeoutMs: number; keepAliveTimeoutMs?: number },
): Promise<void> {
  server.requestTimeout = options.requestTimeoutMs;
  server.headersTimeout = 10_000;
  if (options.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = options.keepAliveTimeoutMs;
  const detach = options.tls.attach(server);
  server.once('close', detach);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
}
