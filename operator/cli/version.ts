import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../api/schema';

/** The package's version, for tools that record which securestack produced a report. */
export function version(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
