/** What a conditional write returns when another writer changed the document since it was read. */
export const LOST_RACE = Symbol('lost race');

/**
 * Optimistic concurrency's loop, for every resource: runs `write` (read, compute, conditional write)
 * again after a short random pause while it reports LOST_RACE, at most `maxAttempts` times; returns
 * LOST_RACE when it never won, and lets the caller say what that means (409).
 */
export async function retryLostRaces<T>(
  write: () => Promise<T | typeof LOST_RACE>,
  maxAttempts = 10,
): Promise<T | typeof LOST_RACE> {
  for (let attempt = 1; ; attempt++) {
    const result = await write();
    if (result !== LOST_RACE || attempt >= maxAttempts) return result;
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
  }
}
