/**
 * Workload hygiene beyond the Pod Security Standards: resources, probes, image provenance and
 * handling of credentials. Most are about reliability and supply chain rather than isolation.
 */
import type { V1Container } from '@kubernetes/client-node';
import { DOCKER_HUB, DOCKER_HUB_ALIASES, parseReference, type ImageReference } from '../../platform/registry/reference';
import type { ContainerView, Finding, PodRule, PodTemplateView } from '../types';
import { containersOf, isWindowsPod } from '../workload';
import { arrayOf, booleanParameter, containerLabel, exampleDeployment, imageOf, isRecord, joinPath, memoize, pathToward, stringList } from './util';

const family = 'best-practices' as const;

// ---------------------------------------------------------------------------------------------
// Resources

const resourceNames = ['cpu', 'memory', 'ephemeral-storage'] as const;
const defaultResources: readonly string[] = ['cpu', 'memory'];

function resourcesParameter(what: string): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      resources: {
        type: 'array',
        description: `Resources every container must declare ${what} for.`,
        minItems: 1,
        uniqueItems: true,
        items: { type: 'string', enum: [...resourceNames] },
        default: [...defaultResources],
      },
    },
  };
}

/** Containers and init containers: ephemeral containers cannot declare resources. */
function resourceBearing(pod: PodTemplateView): ContainerView[] {
  return containersOf(pod).filter((view) => view.list !== 'ephemeralContainers');
}

function declared(container: V1Container, kind: 'requests' | 'limits', resource: string): boolean {
  const resources: unknown = container.resources;
  if (!isRecord(resources)) return false;
  const values = resources[kind];
  return isRecord(values) && values[resource] !== undefined && values[resource] !== null;
}

function resourceFindings(pod: PodTemplateView, kind: 'requests' | 'limits', resources: readonly string[]): Finding[] {
  const findings: Finding[] = [];
  const noun = kind === 'requests' ? 'request' : 'limit';
  for (const view of resourceBearing(pod)) {
    for (const resource of resources) {
      // Kubernetes sets a missing request to the limit, so a limit alone also makes a request.
      if (declared(view.container, kind, resource) || (kind === 'requests' && declared(view.container, 'limits', resource))) continue;
      findings.push({
        field: pathToward(view.path, view.container, ['resources', kind, resource]),
        message: `${containerLabel(view)} has no ${resource} ${noun}`,
        ...imageOf(view),
      });
    }
  }
  return findings;
}

const requireResourceRequests: PodRule = {
  id: 'require-resource-requests',
  title: 'Containers declare resource requests',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'The scheduler places pods by their requests. Without them a pod lands on a node that cannot sustain it and is the ' +
    'first to be evicted under pressure (BestEffort class). Init containers count; ephemeral containers cannot declare ' +
    'resources and are skipped. A limit without a request counts as a request, because Kubernetes copies the limit.',
  remediation: 'Set resources.requests (for the resources listed in the rule\'s parameters) on every container and init container.',
  parameters: resourcesParameter('requests'),
  examples: {
    fail: exampleDeployment('api', { containers: [{ name: 'api', image: 'registry.example.com/api:2.3.1', resources: { requests: { cpu: '250m' } } }] }),
    pass: exampleDeployment('api', {
      containers: [{ name: 'api', image: 'registry.example.com/api:2.3.1', resources: { requests: { cpu: '250m', memory: '256Mi' } } }],
    }),
  },
  check(pod, parameters) {
    return resourceFindings(pod, 'requests', stringList(parameters, 'resources', defaultResources));
  },
};

const requireResourceLimits: PodRule = {
  id: 'require-resource-limits',
  title: 'Containers declare resource limits',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'Without a memory limit one leaking container can exhaust the node and take its neighbours down; without a CPU limit ' +
    'it can starve them. Which resources must be limited is a parameter, because many teams deliberately leave CPU ' +
    'unlimited. Init containers count; ephemeral containers cannot declare resources and are skipped.',
  remediation: 'Set resources.limits (for the resources listed in the rule\'s parameters) on every container and init container.',
  parameters: resourcesParameter('limits'),
  examples: {
    fail: exampleDeployment('api', { containers: [{ name: 'api', image: 'registry.example.com/api:2.3.1', resources: { requests: { cpu: '250m', memory: '256Mi' } } }] }),
    pass: exampleDeployment('api', {
      containers: [{ name: 'api', image: 'registry.example.com/api:2.3.1', resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '256Mi' } } }],
    }),
  },
  check(pod, parameters) {
    return resourceFindings(pod, 'limits', stringList(parameters, 'resources', defaultResources));
  },
};

// ---------------------------------------------------------------------------------------------
// Probes

const probeParameter: Record<string, string> = { liveness: 'livenessProbe', readiness: 'readinessProbe', startup: 'startupProbe' };

/** Containers whose probes the kubelet runs: regular containers and sidecars (init containers with restartPolicy Always). */
function probedContainers(pod: PodTemplateView): ContainerView[] {
  return containersOf(pod).filter(
    (view) => view.list === 'containers' || (view.list === 'initContainers' && view.container.restartPolicy === 'Always'),
  );
}

const requireProbes: PodRule = {
  id: 'require-probes',
  title: 'Long-running containers declare health probes',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'Without a readiness probe a Service sends traffic to a container that is still starting or has lost its backends; ' +
    'without a liveness probe a hung process is never restarted. Checked are containers and sidecar containers (init ' +
    'containers with restartPolicy: Always). Exempt: ordinary init containers and ephemeral containers, whose probes ' +
    'Kubernetes does not run, and pods whose restartPolicy is Never or OnFailure (Jobs, CronJobs), which run to completion.',
  remediation: 'Add the probes the rule\'s parameters list (livenessProbe, readinessProbe) to every long-running container.',
  parameters: {
    type: 'object',
    additionalProperties: false,
    properties: {
      probes: {
        type: 'array',
        description: 'Probes every long-running container must declare.',
        minItems: 1,
        uniqueItems: true,
        items: { type: 'string', enum: Object.keys(probeParameter) },
        default: ['liveness', 'readiness'],
      },
    },
  },
  examples: {
    fail: exampleDeployment('web', { containers: [{ name: 'web', image: 'registry.example.com/web:3.2.1', readinessProbe: { httpGet: { path: '/ready', port: 8080 } } }] }),
    pass: exampleDeployment('web', {
      containers: [
        {
          name: 'web',
          image: 'registry.example.com/web:3.2.1',
          readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
          livenessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 20 },
        },
      ],
    }),
  },
  check(pod, parameters) {
    if (pod.spec.restartPolicy === 'Never' || pod.spec.restartPolicy === 'OnFailure') return [];
    const wanted = stringList(parameters, 'probes', ['liveness', 'readiness']);
    const findings: Finding[] = [];
    for (const view of probedContainers(pod)) {
      for (const probe of wanted) {
        const field = probeParameter[probe];
        if (field === undefined || isRecord((view.container as unknown as Record<string, unknown>)[field])) continue;
        findings.push({ field: joinPath(view.path, field), message: `${containerLabel(view)} has no ${field}`, ...imageOf(view) });
      }
    }
    return findings;
  },
};

// ---------------------------------------------------------------------------------------------
// Images

type ParsedImage = { ok: true; ref: ImageReference } | { ok: false; reason: string };

const parseImage = memoize((image: string): ParsedImage => {
  try {
    return { ok: true, ref: parseReference(image) };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
});

/** Each container with an image, parsed; containers with an unparsable image become findings. */
function imageChecks(views: readonly ContainerView[], check: (view: ContainerView, image: string, ref: ImageReference) => Finding | undefined): Finding[] {
  const findings: Finding[] = [];
  for (const view of views) {
    const image = view.container.image;
    if (typeof image !== 'string' || image === '') continue;
    const parsed = parseImage(image);
    const finding = parsed.ok
      ? check(view, image, parsed.ref)
      : { field: joinPath(view.path, 'image'), message: `${containerLabel(view)} image ${JSON.stringify(image)} is not a valid reference`, image };
    if (finding) findings.push(finding);
  }
  return findings;
}

const disallowLatestTag: PodRule = {
  id: 'disallow-latest-tag',
  title: 'No :latest or untagged images',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'An image without a tag means :latest, and :latest moves: two replicas of the same Deployment can run different ' +
    'code, and a rollback does not roll back. An image pinned by digest passes whatever its tag says.',
  remediation: 'Use an explicit version tag (registry.example.com/app:1.4.2) or pin the image by digest.',
  examples: {
    fail: exampleDeployment('web', { containers: [{ name: 'web', image: 'nginx' }, { name: 'exporter', image: 'registry.example.com/exporter:latest' }] }),
    pass: exampleDeployment('web', {
      containers: [
        { name: 'web', image: 'nginx:1.27.3' },
        { name: 'exporter', image: `registry.example.com/exporter:latest@sha256:${'4d'.repeat(32)}` },
      ],
    }),
  },
  check(pod) {
    return imageChecks(containersOf(pod), (view, image, ref) => {
      if (ref.digest !== undefined || ref.tag !== 'latest') return undefined;
      const explicit = /:latest$/.test(image.trim());
      return {
        field: joinPath(view.path, 'image'),
        message: explicit ? `${containerLabel(view)} uses image ${JSON.stringify(image)}` : `${containerLabel(view)} image ${JSON.stringify(image)} has no tag (means :latest)`,
        image,
      };
    });
  },
};

const requireImageDigest: PodRule = {
  id: 'require-image-digest',
  title: 'Images pinned by digest',
  family,
  severity: 'LOW',
  target: 'pod',
  description:
    'A tag can be re-pushed to point at different content, by a release process or by an attacker with registry access. ' +
    'A digest names exactly one image, so what was scanned and approved is what runs.',
  remediation: 'Reference images by digest (registry.example.com/app:1.4.2@sha256:...); tools such as crane or skopeo print the digest of a tag.',
  examples: {
    fail: exampleDeployment('api', { containers: [{ name: 'api', image: 'registry.example.com/api:2.3.1' }] }),
    pass: exampleDeployment('api', { containers: [{ name: 'api', image: `registry.example.com/api:2.3.1@sha256:${'a1'.repeat(32)}` }] }),
  },
  check(pod) {
    return imageChecks(containersOf(pod), (view, image, ref) =>
      ref.digest !== undefined
        ? undefined
        : { field: joinPath(view.path, 'image'), message: `${containerLabel(view)} image ${JSON.stringify(image)} is not pinned by digest`, image },
    );
  },
};

const pullPolicies = ['Always', 'IfNotPresent', 'Never'] as const;

/** What the API server fills in when imagePullPolicy is left out: Always for :latest (named or implied), else IfNotPresent. */
function defaultPullPolicy(ref: ImageReference): string {
  return ref.tag === 'latest' ? 'Always' : 'IfNotPresent';
}

/**
 * The same for an image as written (SetDefaults_Container), for callers that default whole objects
 * (the CLI): a reference that does not parse gets IfNotPresent, as upstream ignores the parse error
 * there and leaves it to validation.
 */
export function defaultPullPolicyOf(image: string): string {
  const parsed = parseImage(image);
  return parsed.ok ? defaultPullPolicy(parsed.ref) : 'IfNotPresent';
}

const requireImagePullPolicy: PodRule = {
  id: 'require-image-pull-policy',
  title: 'Images pulled with the required pull policy',
  family,
  severity: 'LOW',
  target: 'pod',
  description:
    'With imagePullPolicy Always the kubelet asks the registry for the current image on every start: a re-pushed tag is ' +
    'picked up, and the pod must hold valid pull credentials instead of reusing an image another pod pulled onto the ' +
    'node. A left-out policy is judged by the value Kubernetes fills in (Always for :latest, IfNotPresent otherwise). ' +
    'Images pinned by digest are exempt by default, since their content cannot change; set exemptDigests to false when ' +
    'the point is the credential check (or enable the kubelet\'s KubeletEnsureSecretPulledImages feature instead).',
  remediation: 'Set imagePullPolicy to the required policy on every container (or pin the image by digest).',
  parameters: {
    type: 'object',
    additionalProperties: false,
    properties: {
      policy: { type: 'string', description: 'The pull policy every container must have.', enum: [...pullPolicies], default: 'Always' },
      exemptDigests: { type: 'boolean', description: 'Skip containers whose image is pinned by digest.', default: true },
    },
  },
  examples: {
    fail: exampleDeployment('api', { containers: [{ name: 'api', image: 'registry.example.com/api:2.3.1' }] }),
    pass: exampleDeployment('api', {
      containers: [
        { name: 'api', image: 'registry.example.com/api:2.3.1', imagePullPolicy: 'Always' },
        { name: 'proxy', image: `registry.example.com/proxy:1.25@sha256:${'b2'.repeat(32)}`, imagePullPolicy: 'IfNotPresent' },
      ],
    }),
  },
  check(pod, parameters) {
    const required = typeof parameters.policy === 'string' ? parameters.policy : 'Always';
    const exemptDigests = booleanParameter(parameters, 'exemptDigests', true);
    return imageChecks(containersOf(pod), (view, image, ref) => {
      if (exemptDigests && ref.digest !== undefined) return undefined;
      const explicit = view.container.imagePullPolicy;
      const actual = typeof explicit === 'string' && explicit !== '' ? explicit : defaultPullPolicy(ref);
      if (actual === required) return undefined;
      return {
        field: joinPath(view.path, 'imagePullPolicy'),
        message: `${containerLabel(view)} has imagePullPolicy ${actual}${explicit ? '' : ' (by default)'}, not ${required}`,
        image,
      };
    });
  },
};

function normalizeRegistryEntry(entry: string): string {
  const trimmed = entry.trim().replace(/\/+$/, '');
  const slash = trimmed.indexOf('/');
  const host = (slash < 0 ? trimmed : trimmed.slice(0, slash)).toLowerCase();
  const rest = slash < 0 ? '' : trimmed.slice(slash);
  return `${DOCKER_HUB_ALIASES.includes(host) ? DOCKER_HUB : host}${rest}`;
}

/** Whether `registry/repository` lies under the entry, on a path-segment boundary. */
function underEntry(name: string, entry: string): boolean {
  return name === entry || name.startsWith(`${entry}/`);
}

const allowedRegistries: PodRule = {
  id: 'allowed-registries',
  title: 'Images only from allowed registries',
  family,
  severity: 'HIGH',
  target: 'pod',
  description:
    'Images from arbitrary registries bypass the mirroring, scanning and signing an organisation does on its own ' +
    'registries, and a typo-squatted name on a public registry runs attacker code. References are normalised as the ' +
    'kubelet reads them, so nginx means docker.io/library/nginx; each entry is a registry host (registry.example.com, ' +
    'localhost:5000) or a host and path prefix (ghcr.io/example-org, docker.io/library) matched on whole path segments. ' +
    'This rule has no default and is in no rule set: list it in spec.rules with its registries.',
  remediation: 'Mirror the image into an allowed registry and reference it there, or add its registry to the registries parameter.',
  parameters: {
    type: 'object',
    additionalProperties: false,
    required: ['registries'],
    properties: {
      registries: {
        type: 'array',
        description: 'Registry hosts, or host/path prefixes, images may come from.',
        minItems: 1,
        maxItems: 64,
        items: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]+)?(/[a-z0-9._-]+)*/?$' },
      },
    },
  },
  examples: {
    fail: exampleDeployment('web', { containers: [{ name: 'web', image: 'nginx:1.27.3' }] }),
    pass: exampleDeployment('web', { containers: [{ name: 'web', image: 'registry.example.com/mirror/nginx:1.27.3' }] }),
  },
  check(pod, parameters) {
    // The schema requires registries; without any (a direct call), nothing is allowed.
    const entries = stringList(parameters, 'registries', []).map(normalizeRegistryEntry);
    return imageChecks(containersOf(pod), (view, image, ref) => {
      const name = `${ref.registry}/${ref.repository}`;
      if (entries.some((entry) => underEntry(name, entry))) return undefined;
      return { field: joinPath(view.path, 'image'), message: `${containerLabel(view)} image ${JSON.stringify(image)} (${name}) is not from an allowed registry`, image };
    });
  },
};

// ---------------------------------------------------------------------------------------------
// Pod settings

const disallowAutomountServiceAccountToken: PodRule = {
  id: 'disallow-automount-service-account-token',
  title: 'No automatically mounted API token',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'Unless told otherwise Kubernetes mounts a token for the pod\'s ServiceAccount into every container. Most workloads ' +
    'never call the Kubernetes API, and for them the token only serves an attacker who gets code execution. The rule reads ' +
    'the pod spec only: a ServiceAccount with automountServiceAccountToken: false does not satisfy it, so the choice is ' +
    'visible in the workload itself. Pods that do need the API can mount a projected token volume explicitly.',
  remediation: 'Set spec.automountServiceAccountToken: false in the pod template; mount a projected serviceAccountToken volume where API access is needed.',
  examples: {
    fail: exampleDeployment('web', { containers: [{ name: 'web', image: 'registry.example.com/web:3.2.1' }] }),
    pass: exampleDeployment('web', { automountServiceAccountToken: false, containers: [{ name: 'web', image: 'registry.example.com/web:3.2.1' }] }),
  },
  check(pod) {
    const value = pod.spec.automountServiceAccountToken;
    if (value === false) return [];
    return [
      {
        field: joinPath(pod.specPath, 'automountServiceAccountToken'),
        message: value === true ? 'pod sets automountServiceAccountToken=true' : 'pod does not set automountServiceAccountToken=false',
      },
    ];
  },
};

const readOnlyRootFilesystem: PodRule = {
  id: 'read-only-root-filesystem',
  title: 'Read-only root file system',
  family,
  severity: 'LOW',
  target: 'pod',
  description:
    'A writable root file system lets an intruder drop tools and alter binaries or configuration of the running ' +
    'container. With it read-only, writes go only to volumes the pod declares (an emptyDir for /tmp). Checked are ' +
    'containers and init containers; ephemeral debug containers are exempt, and so are Windows pods, where the setting ' +
    'is not supported.',
  remediation: 'Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the process must write.',
  examples: {
    fail: exampleDeployment('web', { containers: [{ name: 'web', image: 'registry.example.com/web:3.2.1' }] }),
    pass: exampleDeployment('web', {
      containers: [
        { name: 'web', image: 'registry.example.com/web:3.2.1', securityContext: { readOnlyRootFilesystem: true }, volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }] },
      ],
      volumes: [{ name: 'tmp', emptyDir: {} }],
    }),
  },
  check(pod) {
    if (isWindowsPod(pod)) return [];
    const findings: Finding[] = [];
    for (const view of containersOf(pod)) {
      if (view.list === 'ephemeralContainers') continue;
      const context: unknown = view.container.securityContext;
      if (isRecord(context) && context.readOnlyRootFilesystem === true) continue;
      findings.push({
        field: pathToward(view.path, view.container, ['securityContext', 'readOnlyRootFilesystem']),
        message: `${containerLabel(view)} does not set securityContext.readOnlyRootFilesystem=true`,
        ...imageOf(view),
      });
    }
    return findings;
  },
};

// ---------------------------------------------------------------------------------------------
// Secrets in the environment

const defaultSecretNames: readonly string[] = ['PASSWORD', 'PASSWD', 'SECRET', 'TOKEN', 'API_KEY', 'APIKEY', 'PRIVATE_KEY', 'CREDENTIAL', 'CREDENTIALS', 'ACCESS_KEY'];
const defaultIgnoredSuffixes: readonly string[] = ['FILE', 'PATH', 'DIR', 'URL', 'URI', 'NAME', 'ENDPOINT'];

/** `dbPassword`, `DB_PASSWORD` and `db.password` all become [DB, PASSWORD]. */
const words = memoize((name: string): readonly string[] =>
  name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()
    .split(/[^A-Z0-9]+/)
    .filter((word) => word !== ''),
);

/** Whether `phrase`'s words occur in `name` as a contiguous run. */
function containsPhrase(name: readonly string[], phrase: readonly string[]): boolean {
  if (phrase.length === 0) return false;
  for (let start = 0; start + phrase.length <= name.length; start++) {
    if (phrase.every((word, offset) => name[start + offset] === word)) return true;
  }
  return false;
}

/** A value made only of `$(OTHER_VAR)` references is not a literal. */
function isLiteral(value: string): boolean {
  return value !== '' && value.replace(/\$\([A-Za-z_][A-Za-z0-9_.-]*\)/g, '').trim() !== '';
}

const disallowSecretsInEnv: PodRule = {
  id: 'disallow-secrets-in-env',
  title: 'No credentials as literal environment values',
  family,
  severity: 'HIGH',
  target: 'pod',
  description:
    'A credential written into env[].value is stored in plain text in the workload object: readable by anyone who can get ' +
    'Deployments, kept in etcd, in Git and in every ReplicaSet revision. A variable counts as a credential when its name, ' +
    'split into words (DB_PASSWORD, dbPassword and db.password all read DB PASSWORD), contains one of the names, and does ' +
    'not end in one of the ignored suffixes (PASSWORD_FILE names a file, not a password). Values taken from Secrets ' +
    '(valueFrom) and values that only reference other variables ($(VAR)) pass. Messages never include the value.',
  remediation: 'Store the value in a Secret and reference it with env[].valueFrom.secretKeyRef (or mount the Secret as a file).',
  parameters: {
    type: 'object',
    additionalProperties: false,
    properties: {
      names: {
        type: 'array',
        description: 'Words or word sequences (API_KEY) that mark a variable as a credential; compared case-insensitively.',
        minItems: 1,
        maxItems: 64,
        items: { type: 'string', minLength: 1, maxLength: 64 },
        default: [...defaultSecretNames],
      },
      ignoredSuffixes: {
        type: 'array',
        description: 'Last words that mark a variable as a reference to a credential rather than the credential.',
        maxItems: 64,
        items: { type: 'string', minLength: 1, maxLength: 64 },
        default: [...defaultIgnoredSuffixes],
      },
    },
  },
  examples: {
    fail: exampleDeployment('api', {
      containers: [{ name: 'api', image: 'registry.example.com/api:2.3.1', env: [{ name: 'DB_USER', value: 'api' }, { name: 'DB_PASSWORD', value: 'hunter2' }] }],
    }),
    pass: exampleDeployment('api', {
      containers: [
        {
          name: 'api',
          image: 'registry.example.com/api:2.3.1',
          env: [
            { name: 'DB_USER', value: 'api' },
            { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'api-db', key: 'password' } } },
            { name: 'DB_PASSWORD_FILE', value: '/run/secrets/db/password' },
          ],
        },
      ],
    }),
  },
  check(pod, parameters) {
    const phrases = stringList(parameters, 'names', defaultSecretNames).map(words);
    const ignored = new Set(stringList(parameters, 'ignoredSuffixes', defaultIgnoredSuffixes).map((suffix) => suffix.toUpperCase()));
    const findings: Finding[] = [];
    for (const view of containersOf(pod)) {
      arrayOf(view.container.env).forEach((variable, index) => {
        if (!isRecord(variable) || typeof variable.name !== 'string' || typeof variable.value !== 'string' || !isLiteral(variable.value)) return;
        const name = words(variable.name);
        if (ignored.has(name[name.length - 1] ?? '') || !phrases.some((phrase) => containsPhrase(name, phrase))) return;
        findings.push({
          field: joinPath(view.path, 'env', index, 'value'),
          message: `${containerLabel(view)} sets env ${variable.name} to a literal value`,
          ...imageOf(view),
        });
      });
    }
    return findings;
  },
};

export const bestPracticeRules: readonly PodRule[] = [
  requireResourceRequests,
  requireResourceLimits,
  requireProbes,
  disallowLatestTag,
  requireImageDigest,
  requireImagePullPolicy,
  disallowAutomountServiceAccountToken,
  readOnlyRootFilesystem,
  allowedRegistries,
  disallowSecretsInEnv,
];
