/** A logger whose lines a test can read back (pino's JSON lines, as one text). */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log.js';

export function memoryLogger(): { logger: Logger; text: () => string } {
  let text = '';
  const destination = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), text: () => text };
}
