import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs. Authorization headers, tokens and passwords are redacted wherever they appear. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'roster' },
      redact: {
        paths: [
          'req.headers.authorization',
          'headers.authorization',
          '*.password',
          '*.token',
          '*.passwordHash',
          'password',
          'token',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
