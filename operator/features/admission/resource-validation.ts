/**
 * Admission checks of SecureStack's own resources beyond their CRD schemas: a pattern can tell
 * that a schedule has five fields, not that its range runs backwards or that its time zone is
 * missing from the tz database. Each feature supplies the check (a pure function, handed in by
 * the entry point); this answers the API server with the problems, so `kubectl apply` shows them.
 */
import type { AdmissionRequest, AdmissionResponse } from './admission';
import type { WebhookRule } from './configuration';

export const validateResourcesPath = '/validate-resources';

export interface ResourceValidator {
  group: string;
  version: string;
  /** Plural resource name, as in the AdmissionReview's request.resource. */
  resource: string;
  /** What is wrong with the object, one line per problem; empty when it may be stored. */
  validate(object: Record<string, unknown>): string[];
}

export class ResourceValidationHandler {
  private readonly byResource: Map<string, ResourceValidator>;

  constructor(validators: readonly ResourceValidator[]) {
    this.byResource = new Map(validators.map((validator) => [`${validator.group}/${validator.resource}`, validator]));
  }

  /** The webhook rules that send these resources' creations and updates here. */
  rules(): WebhookRule[] {
    return [...this.byResource.values()].map((validator) => ({ apiGroups: [validator.group], apiVersions: [validator.version], resources: [validator.resource], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' }));
  }

  review(request: AdmissionRequest): AdmissionResponse {
    const resource = request.resource;
    const validator = resource ? this.byResource.get(`${resource.group}/${resource.resource}`) : undefined;
    // Deletions, subresources (status) and resources nobody checks pass: the schema had its say.
    if (!validator || request.subResource || !request.object || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) return { uid: request.uid, allowed: true };
    const problems = validator.validate(request.object);
    if (problems.length === 0) return { uid: request.uid, allowed: true };
    const kind = request.kind.kind;
    return { uid: request.uid, allowed: false, status: { code: 422, reason: 'Invalid', message: `${kind} ${request.name ?? ''} is invalid: ${problems.join('; ')}` } };
  }
}
