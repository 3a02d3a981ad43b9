import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  KEY_ENCRYPTION_ENV,
  KEY_ENCRYPTION_FILE_ENV,
  keyEncryptionKeyId,
  parseKeyEncryptionKey,
  PREVIOUS_KEY_ENCRYPTION_ENV,
} from '../keys/keyEncryption.js';
import { checkDestination, destinationPolicy } from '../net/destinations.js';
import { configSchema, type Config } from './schema.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export { ASYMMETRIC_ALGS, type Config, type TokenSource, type TrustedIssuer } from './schema.js';
export type Json = Record<string, unknown>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function isPlainObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge: objects merge key by key, arrays and scalars replace. */
export function overlay(base: Json, top: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(top)) {
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? overlay(out[key] as Json, value) : value;
  }
  return out;
}

function stripComments(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripComments);
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => k !== '$comment')
      .map(([k, v]) => [k, stripComments(v)]),
  );
}

function readJsonFile(file: string): Json {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isPlainObject(parsed)) throw new Error('the top level must be an object');
    return parsed;
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

function fromEnvironment(env: NodeJS.ProcessEnv): Json {
  const out: Json = {};
  const set = (keyPath: string, value: unknown) => {
    const keys = keyPath.split('.');
    let node = out;
    for (const k of keys.slice(0, -1)) node = (node[k] ??= {}) as Json;
    node[keys[keys.length - 1]] = value;
  };
  if (env.PORT) set('server.port', env.PORT);
  if (env.HOST) set('server.host', env.HOST);
  if (env.ROSTER_PUBLIC_URL) set('server.publicUrl', env.ROSTER_PUBLIC_URL);
  if (env.MONGODB_URI) set('mongodb.uri', env.MONGODB_URI);
  if (env.ROSTER_DATA_DIR) set('dataDir', env.ROSTER_DATA_DIR);
  if (env.ROSTER_SMTP_URL) set('mail.smtpUrl', env.ROSTER_SMTP_URL);
  if (env.ROSTER_MAIL_FROM) set('mail.from', env.ROSTER_MAIL_FROM);
  if (env.LOG_LEVEL) set('log.level', env.LOG_LEVEL);
  if (env[KEY_ENCRYPTION_ENV]) set('keyEncryption.key', env[KEY_ENCRYPTION_ENV]);
  if (env[PREVIOUS_KEY_ENCRYPTION_ENV]) {
    set('keyEncryption.previousKeys', env[PREVIOUS_KEY_ENCRYPTION_ENV].split(/[\s,]+/).filter(Boolean));
  }
  return out;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Extra overlay applied last (tests). */
  overrides?: Json;
  defaultFile?: string;
}

/** Loads default.json, the ROSTER_CONFIG file and the environment, validates once and freezes. */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  let merged = readJsonFile(options.defaultFile ?? path.join(PROJECT_ROOT, 'config/default.json'));
  if (env.ROSTER_CONFIG) merged = overlay(merged, readJsonFile(env.ROSTER_CONFIG));
  merged = overlay(merged, fromEnvironment(env));
  const keyFile = env[KEY_ENCRYPTION_FILE_ENV];
  if (keyFile) {
    if (env[KEY_ENCRYPTION_ENV]) {
      throw new ConfigError(`set one of ${KEY_ENCRYPTION_ENV} and ${KEY_ENCRYPTION_FILE_ENV}, not both`);
    }
    merged = overlay(merged, { keyEncryption: { key: readKeyFile(keyFile) } });
  }
  if (options.overrides) merged = overlay(merged, options.overrides);
  merged = stripComments(merged) as Json;
  merged.production = env.NODE_ENV === 'production';
  const server = merged.server as { publicUrl?: string; host?: string; port?: string | number };
  if (!server.publicUrl) server.publicUrl = defaultPublicUrl(String(server.host), String(server.port));

  const auth = merged.auth as { scimTokens: Json[]; adminTokens: Json[]; verifyTokens: Json[] };
  if (env.ROSTER_SCIM_TOKEN) {
    auth.scimTokens = [...auth.scimTokens, { name: 'env', token: env.ROSTER_SCIM_TOKEN, source: 'manual' }];
  }
  if (env.ROSTER_ADMIN_TOKEN) {
    auth.adminTokens = [...auth.adminTokens, { name: 'env', token: env.ROSTER_ADMIN_TOKEN }];
  }
  if (env.ROSTER_VERIFY_TOKEN) {
    auth.verifyTokens = [...auth.verifyTokens, { name: 'env', token: env.ROSTER_VERIFY_TOKEN }];
  }
  return validateConfig(merged);
}

/** The key-encryption key in a file (a Docker or Kubernetes secret): the key, surrounding whitespace ignored. */
function readKeyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`cannot read ${KEY_ENCRYPTION_FILE_ENV} ${file}: ${(err as Error).message}`);
  }
}

/** Where Roster is reached when no public URL is configured: the address it listens on. */
function defaultPublicUrl(host: string, port: string): string {
  const local = ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost', 'undefined'].includes(host);
  const name = local ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}

export function validateConfig(raw: Json): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.join('.') || '(root)';
      return `${key}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const config = result.data;
  if (config.production && !config.mongodb.uri) {
    throw new ConfigError('invalid configuration:\n  mongodb.uri: MONGODB_URI is required when NODE_ENV=production');
  }
  // A JWKS URL with a literal address is checked here too (names are checked at each connection).
  const policy = destinationPolicy(config.outbound.allowedDestinations, config.production);
  for (const [i, issuer] of config.oauth.trustedIssuers.entries()) {
    const url = issuer.jwksUri ? new URL(issuer.jwksUri) : undefined;
    const host = url?.hostname.replace(/^\[(.*)\]$/, '$1');
    const verdict = url && isIP(host!) ? checkDestination(host!, policy, url.protocol === 'http:') : undefined;
    if (verdict && !verdict.allowed)
      throw new ConfigError(`invalid configuration:\n  oauth.trustedIssuers.${i}.jwksUri: ${verdict.reason}`);
  }
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The effective configuration with secrets redacted (admin settings endpoint, start-up log). */
export function redactConfig(config: Config): Json {
  const redactUri = (uri: string) => uri.replace(/\/\/([^@/]+)@/, '//***@');
  return {
    ...config,
    mongodb: { ...config.mongodb, uri: redactUri(config.mongodb.uri) },
    mail: { ...config.mail, smtpUrl: redactUri(config.mail.smtpUrl) },
    auth: {
      scimTokens: config.auth.scimTokens.map((t) => ({ name: t.name, source: t.source, secret: '[redacted]' })),
      adminTokens: config.auth.adminTokens.map((t) => ({ name: t.name, secret: '[redacted]' })),
      verifyTokens: config.auth.verifyTokens.map((t) => ({ name: t.name, secret: '[redacted]' })),
      verifyRateLimit: config.auth.verifyRateLimit,
    },
    // The ids name the keys (they are in the start-up error when one is missing) and reveal nothing.
    keyEncryption: {
      keyId: config.keyEncryption.key ? keyEncryptionKeyId(parseKeyEncryptionKey(config.keyEncryption.key)) : null,
      previousKeyIds: config.keyEncryption.previousKeys.map((k) => keyEncryptionKeyId(parseKeyEncryptionKey(k))),
    },
  };
}

/** The SCIM API's base URL (meta.location, Location, links in discovery): the one place that builds it. */
export function scimBaseUrl(config: Pick<Config, 'server'>): string {
  return `${config.server.publicUrl}/scim/v2`;
}
