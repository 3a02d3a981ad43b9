import { expect } from 'vitest';
import { ScimError } from '../../src/scim/errors.js';

/** The ScimError that `fn` throws; anything else thrown, or nothing, fails the test. */
export function scimError(fn: () => unknown): ScimError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ScimError);
    return error as ScimError;
  }
  throw new Error('expected a ScimError');
}
