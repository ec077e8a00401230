/**
 * Structured JSON logs (pino). Anything that could carry a credential is redacted by path,
 * and callers never pass tokens, passwords or headers to a log call in the first place.
 */
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.DORIS_LOG_LEVEL ?? 'info',
      base: { component: 'doris' },
      redact: {
        paths: ['token', 'password', 'secret', '*.token', '*.password', '*.secret', 'headers.authorization', 'req.headers.authorization', '*.authorization'],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (options.destination ?? process.stdout) as pino.DestinationStream,
  );
}
