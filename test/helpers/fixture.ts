import { afterAll, beforeAll } from 'vitest';

/**
 * Something a test file starts once in beforeAll and stops in afterAll, usable at the top of the file:
 * `const t = useFixture(() => startTestRoster(), (t) => t.close())`. The object returned stands for the
 * one `start` makes; it may be read inside tests and hooks (not at the top level, before it exists).
 * Fixtures declared later start later and stop earlier (vitest's default "stack" order of hooks), so a
 * fixture's `start` may read the fixtures declared above it.
 */
export function useFixture<T extends object>(start: () => Promise<T>, stop: (value: T) => unknown): T {
  let current: T | undefined;
  beforeAll(async () => {
    current = await start();
  });
  afterAll(async () => {
    if (current) await stop(current);
  });
  const target = (key: PropertyKey): T => {
    if (current) return current;
    throw new Error(`a fixture was read (${String(key)}) before its beforeAll ran`);
  };
  return new Proxy({} as T, {
    get: (_, key) => {
      // `await fixture` and vitest's pretty-printing look for these before the fixture exists.
      if (!current && (key === 'then' || typeof key === 'symbol')) return undefined;
      const value = Reflect.get(target(key), key) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(current) : value;
    },
    set: (_, key, value) => Reflect.set(target(key), key, value),
    has: (_, key) => Reflect.has(target(key), key),
  });
}
