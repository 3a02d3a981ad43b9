/**
 * What the factories share (docs/ARCHITECTURE.md "Composition"): the clock, the event recorder, the
 * live configuration view and the logger, built once by the composition and handed to the services
 * that need them instead of one parameter each. Tests that need their own clock pass `now` to
 * createRoster, which puts it here.
 */
import type { Config } from '../config/index.js';
import type { Logger } from '../logger.js';
import type { NewEvent } from './types.js';

export interface Env {
  /** The current time. */
  now(): Date;
  /** Appends one event to the event log. */
  recordEvent(event: NewEvent): Promise<void>;
  /** The configuration as of now: a reload (SIGHUP) reaches whoever reads it on each use. */
  config: Config;
  logger: Logger;
}
