/**
 * JSON logs through pino. Anything that could carry a credential is redacted by path, so a
 * careless `log.info({ request })` cannot leak a token or a Secret's data.
 */
import pino from 'pino';
import type { LogLevel } from './config';

export type Logger = pino.Logger;

export const redactedPaths = [
  'token', '*.token', 'password', '*.password', 'authorization', '*.authorization',
  'headers.authorization', '*.headers.authorization', 'headers.Authorization', '*.headers.Authorization',
  'data', '*.data', 'stringData', '*.stringData', 'bearerToken', '*.bearerToken', 'key', '*.key',
];

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { component: 'securestack' },
      redact: { paths: redactedPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
