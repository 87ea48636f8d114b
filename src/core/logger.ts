/**
 * The one logger type every part of revokit writes to: pino-compatible, only `warn` and `error`
 * required. A pino logger, `console`, or any object with those methods fits.
 * @example
 * createAuth({ issuer, audience, store, logger: pino() });
 */
export interface Logger {
  info?(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
