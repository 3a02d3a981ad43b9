import { z } from 'zod';
import { parseKeyEncryptionKey } from '../keys/keyEncryption.js';
import { isAddressOrCidr } from '../net/addresses.js';
import { looksLikePrincipalId, PRINCIPAL_ID_NAME_RULE, type TokenSource } from '../principals.js';

/**
 * The configuration's schema: every key with its type, bounds and rules (a refusal names the key).
 * Loading (files, environment variables) and the checks across keys are in config/index.ts; the
 * defaults, each with its `$comment`, in config/default.json.
 */

const state = z.enum(['STAGED', 'ACTIVE']);
const tokenSecret = z
  .object({
    name: z
      .string()
      .min(1)
      .refine((name) => !looksLikePrincipalId(name), PRINCIPAL_ID_NAME_RULE),
    token: z.string().min(16, 'a token needs at least 16 characters').optional(),
    hash: z
      .string()
      .regex(/^sha256:[0-9a-f]{64}$/i, 'must be "sha256:" followed by 64 hex digits')
      .optional(),
  })
  .refine((t) => Boolean(t.token) !== Boolean(t.hash), 'give exactly one of "token" or "hash"');

/** A key-encryption key (README "Keys at rest"); the message never repeats the value. */
const keyEncryptionKey = z.string().superRefine((value, ctx) => {
  if (value === '') return; // none (development generates one; production refuses to start)
  try {
    parseKeyEncryptionKey(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

/** A token's name is its id (`token:<name>`): unique among the tokens of its kind. */
function uniqueNames<T extends z.ZodType<{ name: string }[]>>(list: T) {
  return list.refine(
    (tokens) => new Set(tokens.map((t) => t.name)).size === tokens.length,
    'two tokens have the same name; each needs its own (events and bindings name it)',
  );
}

const scope = z.enum(['scim:read', 'scim:write', 'admin']);
/** Asymmetric JWS algorithms only: never `none`, never HMAC (a public key must not become a shared secret). */
export const ASYMMETRIC_ALGS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
const asymmetricAlg = z.enum(ASYMMETRIC_ALGS);
const trustedIssuer = z
  .strictObject({
    name: z.string().min(1),
    issuer: z.string().min(1),
    jwksUri: z.url().optional(),
    jwks: z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).optional(),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    allowedSubjects: z.array(z.string().min(1)).default([]),
    allowedAppIds: z.array(z.string().min(1)).default([]),
    source: z.enum(['manual', 'bulk', 'integration']).default('integration'),
    scopes: z.array(scope).min(1).default(['scim:read', 'scim:write']),
    algorithms: z.array(asymmetricAlg).min(1).default(['RS256', 'ES256']),
  })
  .refine((t) => Boolean(t.jwksUri) !== Boolean(t.jwks), 'give exactly one of "jwksUri" or "jwks"')
  .refine(
    (t) => t.allowedSubjects.length + t.allowedAppIds.length > 0,
    'list the allowed callers in "allowedSubjects" and/or "allowedAppIds"',
  );

export const configSchema = z
  .object({
    server: z.strictObject({
      port: z.coerce.number().int().min(0).max(65535),
      host: z.string().min(1),
      publicUrl: z.url().transform((u) => u.replace(/\/+$/, '')),
      bodyLimitBytes: z.number().int().min(1024),
      shutdownGraceMs: z.number().int().min(0),
      trustProxy: z.array(
        z.string().refine(isAddressOrCidr, 'must be an IP address or a CIDR range like "10.0.0.0/8"'),
      ),
      overload: z.strictObject({
        maxInFlight: z.number().int().min(1),
        maxQueued: z.number().int().min(0),
        queueTimeoutMs: z.number().int().min(0),
        maxInFlightPerDirectory: z.number().int().min(1),
      }),
    }),
    mongodb: z.strictObject({ uri: z.string(), connectTimeoutMs: z.number().int().min(500) }),
    dataDir: z.string().min(1),
    auth: z.strictObject({
      scimTokens: uniqueNames(
        z.array(
          z.intersection(
            tokenSecret,
            z.object({ source: z.enum(['manual', 'bulk', 'integration']).default('manual') }),
          ),
        ),
      ),
      adminTokens: uniqueNames(z.array(tokenSecret)),
      verifyTokens: uniqueNames(z.array(tokenSecret)),
      verifyRateLimit: z.strictObject({
        perClientPerMinute: z.number().int().min(1),
        perUsernamePerMinute: z.number().int().min(1),
        perIpPerMinute: z.number().int().min(1),
      }),
    }),
    oauth: z.strictObject({
      enabled: z.boolean(),
      accessTokenTtlSeconds: z.number().int().min(60).max(86_400),
      secretOverlapHours: z.number().min(0),
      clientCacheSeconds: z.number().min(0).max(60),
      clockSkewSeconds: z.number().int().min(0).max(300),
      failedAuthPerMinute: z.number().int().min(1),
      maxConcurrentSecretChecks: z.number().int().min(1).max(64),
      assertionMaxLifetimeSeconds: z.number().int().min(30).max(3600),
      jwksCacheSeconds: z.number().int().min(30),
      jwksRefreshCooldownSeconds: z.number().int().min(1),
      trustedIssuers: z.array(trustedIssuer),
    }),
    scim: z.strictObject({
      maxResults: z.number().int().min(100, 'must be at least 100 (Okta imports by 100)'),
      defaultCount: z.number().int().min(1),
      bulk: z.strictObject({
        maxOperations: z.number().int().min(1),
        maxPayloadSize: z.number().int().min(1024),
        maxAsyncRuns: z.number().int().min(0),
        maxAsyncRunsPerClient: z.number().int().min(0),
      }),
    }),
    users: z.strictObject({
      defaultState: z.strictObject({ manual: state, bulk: state, integration: state }),
      defaultPasswordAuthority: z.enum(['none', 'activeDirectory', 'scim']),
    }),
    passwords: z.strictObject({
      minLength: z.number().int().min(1),
      maxLength: z.number().int().min(8),
      requireCharacterClasses: z.number().int().min(0).max(4),
      maxFailedAttempts: z.number().int().min(1),
      lockoutMinutes: z.number().min(0),
    }),
    activation: z.strictObject({
      linkTtlDays: z.number().positive(),
      resetLinkTtlHours: z.number().positive(),
    }),
    reminders: z.strictObject({
      noLoginDays: z.number().int().min(0),
      hourUtc: z.number().int().min(0).max(23),
    }),
    mail: z.strictObject({
      smtpUrl: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL'),
      from: z.string().min(3),
      orgName: z.string(),
      portalUrl: z.string(),
      templatesDir: z.string().min(1),
      maxAttempts: z.number().int().min(1),
    }),
    jobs: z.strictObject({
      processEvery: z.string().regex(/^\d+(\.\d+)? ?(ms|milliseconds?|seconds?|minutes?)$/, 'like "5 seconds"'),
    }),
    rateLimit: z.strictObject({
      enabled: z.boolean(),
      requestsPerMinute: z.number().int().min(1),
    }),
    signing: z.strictObject({
      rotateAfterDays: z.number().positive(),
      publishRetiredForDays: z.number().min(0),
    }),
    keyEncryption: z.strictObject({
      key: keyEncryptionKey,
      previousKeys: z.array(keyEncryptionKey.refine((k) => k !== '', 'must not be empty')),
    }),
    console: z.strictObject({
      session: z.strictObject({
        idleMinutes: z.number().positive(),
        absoluteHours: z.number().positive(),
      }),
    }),
    securityEvents: z.strictObject({
      push: z.strictObject({
        timeoutMs: z.number().int().min(100),
        retryBaseSeconds: z.number().positive(),
        retryMaxMinutes: z.number().positive(),
        giveUpAfterHours: z.number().positive(),
      }),
      poll: z.strictObject({
        longPollSeconds: z.number().min(0).max(300),
        maxEvents: z.number().int().min(1).max(10_000),
      }),
      sweepEvery: z.string().regex(/^\d+(\.\d+)? ?(ms|milliseconds?|seconds?|minutes?)$/, 'like "30 seconds"'),
      retainDays: z.number().positive(),
    }),
    outbound: z.strictObject({
      allowedDestinations: z.array(
        z.string().refine(isAddressOrCidr, 'must be an IP address or a CIDR range like "10.0.0.0/8"'),
      ),
    }),
    directories: z.strictObject({
      retentionDays: z.number().min(0),
    }),
    log: z.strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    }),
    production: z.boolean(),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type { TokenSource };
export type TrustedIssuer = Config['oauth']['trustedIssuers'][number];
