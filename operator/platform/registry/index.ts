/** The operator's registry client: references, pull-secret credentials, digest resolution. */
export * from './errors';
export * from './reference';
export * from './dockerconfig';
export * from './client';
