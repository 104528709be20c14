/**
 * Certificate helpers: the operator's own certificate authorities and serving certificates, so
 * its HTTPS servers speak TLS without cert-manager. Keys are ECDSA P-256, made with WebCrypto;
 * certificates are built with @peculiar/x509. The Secret that holds them, renewal and CA
 * rotation are operator/platform/tls/serving.ts.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, webcrypto } from 'node:crypto';

// Node's WebCrypto is the standard API x509 expects; the DOM type it names is not in our lib.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const dayMs = 86_400_000;

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  const body = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').trimEnd();
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, algorithm, true, ['sign']);
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');
}

/** Clock skew between nodes is covered by backdating notBefore, never by more than this. */
const maxBackdateMs = 5 * 60_000;

/**
 * The validity window of a new certificate. The backdate is at most a tenth of the validity so
 * that short-lived certificates (tests use seconds) keep a meaningful renewal point.
 */
function validityWindow(validityMs: number, now: Date, notAfterLimit?: Date): { notBefore: Date; notAfter: Date } {
  const notAfter = now.getTime() + validityMs;
  return {
    notBefore: new Date(now.getTime() - Math.min(maxBackdateMs, validityMs / 10)),
    // A certificate that outlives its issuer is invalid from the issuer's expiry on anyway.
    notAfter: new Date(notAfterLimit ? Math.min(notAfter, notAfterLimit.getTime()) : notAfter),
  };
}

export async function createCa(commonName: string, validityDays: number, now = new Date()): Promise<KeyPairPem> {
  return createCaValidFor(commonName, validityDays * dayMs, now);
}

/** A self-signed CA valid for validityMs milliseconds from now. */
export async function createCaValidFor(commonName: string, validityMs: number, now = new Date()): Promise<KeyPairPem> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    ...validityWindow(validityMs, now),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: `${cert.toString('pem')}\n`, keyPem: await privateKeyPem(keys.privateKey) };
}

/** A serving certificate for DNS names and IP addresses, signed by the CA. */
export async function issueServingCert(ca: KeyPairPem, hosts: readonly string[], validityDays: number, now = new Date()): Promise<KeyPairPem> {
  return issueServingCertValidFor(ca, hosts, validityDays * dayMs, now);
}

/** Like issueServingCert, valid for validityMs milliseconds but never past the CA's own expiry. */
export async function issueServingCertValidFor(ca: KeyPairPem, hosts: readonly string[], validityMs: number, now = new Date()): Promise<KeyPairPem> {
  const keys = await generateKeys();
  const caCert = new x509.X509Certificate(ca.certPem);
  const names = hosts.map((host) => (isIpAddress(host) ? { type: 'ip' as const, value: host } : { type: 'dns' as const, value: host }));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${hosts[0] ?? 'securestack'}`,
    issuer: caCert.subject,
    ...validityWindow(validityMs, now, caCert.notAfter),
    signingAlgorithm: algorithm,
    publicKey: keys.publicKey,
    signingKey: await importPrivateKey(ca.keyPem),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(names, false),
      // Lets a client pick the right issuer when two CAs are trusted at once during a CA rotation.
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: `${cert.toString('pem')}\n`, keyPem: await privateKeyPem(keys.privateKey) };
}

function isIpAddress(host: string): boolean {
  return /^[\d.]+$|:/.test(host);
}

/** notBefore and notAfter of a PEM certificate, in milliseconds since the epoch. */
export function validityOf(certPem: string): { notBefore: number; notAfter: number } {
  const cert = new X509Certificate(certPem);
  return { notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) };
}

/** True when no more than remainingFraction of the certificate's lifetime is left. */
export function renewalDue(certPem: string, now = new Date(), remainingFraction = 1 / 3): boolean {
  const { notBefore, notAfter } = validityOf(certPem);
  return now.getTime() >= notAfter - (notAfter - notBefore) * remainingFraction;
}

export function coversHosts(certPem: string, hosts: readonly string[]): boolean {
  const cert = new X509Certificate(certPem);
  return hosts.every((host) => (isIpAddress(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined));
}

/** True when the certificate covers every host and has more than a third of its life left. */
export function stillGood(certPem: string, hosts: readonly string[], now = new Date()): boolean {
  return !renewalDue(certPem, now) && coversHosts(certPem, hosts);
}
