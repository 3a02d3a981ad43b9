/**
 * Token buckets by key: each allows a burst of one minute's allowance, refilled continuously. In
 * memory, per instance, at most `maxKeys` of them: the key seen least recently is forgotten first
 * (it starts again from a full bucket). `take` answers undefined when the request may go, else the
 * seconds to wait.
 */
export function createBuckets(now: () => number = Date.now, maxKeys = 100_000) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    /** Like take, but takes nothing: the seconds to wait when the bucket is empty, else undefined. */
    peek(key: string, perMinute: number): number | undefined {
      const bucket = buckets.get(key);
      if (!bucket) return undefined;
      const perMs = perMinute / 60_000;
      const tokens = Math.min(perMinute, bucket.tokens + (now() - bucket.at) * perMs);
      return tokens < 1 ? Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)) : undefined;
    },
    take(key: string, perMinute: number): number | undefined {
      const perMs = perMinute / 60_000;
      const t = now();
      const bucket = buckets.get(key) ?? { tokens: perMinute, at: t };
      bucket.tokens = Math.min(perMinute, bucket.tokens + (t - bucket.at) * perMs);
      bucket.at = t;
      // Re-inserted so the map's order is least recently seen first.
      buckets.delete(key);
      buckets.set(key, bucket);
      if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value!);
      if (bucket.tokens < 1) return Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
      bucket.tokens -= 1;
      return undefined;
    },
    /** Gives back what take took (the attempt it counted turned out not to be a failure). */
    refund(key: string, perMinute: number): void {
      const bucket = buckets.get(key);
      if (bucket) bucket.tokens = Math.min(perMinute, bucket.tokens + 1);
    },
  };
}

export type Buckets = ReturnType<typeof createBuckets>;
