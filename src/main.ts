import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { createRoster } from './compose.js';
import { ConfigError, loadConfig, PROJECT_ROOT, redactConfig, type Config } from './config/index.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './devdb/embedded.js';
import { connectDatabase } from './db/mongo.js';
import type { PrincipalKind } from './http/auth.js';
import { developmentTokens } from './http/devTokens.js';
import { developmentKeyEncryptionKey } from './keys/developmentKey.js';
import {
  GENERATE_KEY_HINT,
  KEY_ENCRYPTION_ENV,
  KEY_ENCRYPTION_FILE_ENV,
  KeyEncryptionError,
} from './keys/keyEncryption.js';
import { createLogger } from './logger.js';

/**
 * The configuration with a key-encryption key (README "Keys at rest"): production must be given one;
 * development without one uses (or makes) `<dataDir>/key-encryption-key`, like the development tokens.
 */
function loadConfigWithKey(): Config {
  const config = loadConfig();
  if (config.keyEncryption.key) return config;
  if (config.production) {
    throw new ConfigError(
      `no key-encryption key: set ${KEY_ENCRYPTION_ENV} (or ${KEY_ENCRYPTION_FILE_ENV}, a file holding it) to 32 random bytes, e.g. from: ${GENERATE_KEY_HINT}; refusing to start in production`,
    );
  }
  const dev = developmentKeyEncryptionKey(path.resolve(PROJECT_ROOT, config.dataDir));
  if (dev.created) process.stdout.write(`\nGenerated development key-encryption key (saved in ${dev.file})\n\n`);
  return loadConfig({ overrides: { keyEncryption: { key: dev.key } } });
}

/** Composition root: config -> database -> services and jobs -> HTTP; signals. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfigWithKey();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`roster: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  const logger = createLogger(config.log.level);
  const dataDir = path.resolve(PROJECT_ROOT, config.dataDir);

  let embedded: EmbeddedDatabase | undefined;
  let uri = config.mongodb.uri;
  if (!uri) {
    embedded = await startEmbeddedDatabase(dataDir, (m) => logger.info(m));
    uri = embedded.uri;
    logger.info({ database: embedded.kind, uri, dataDir }, `development database: embedded ${embedded.kind}`);
  } else {
    logger.info({ database: 'external' }, 'database: MONGODB_URI');
  }
  const { client, db } = await connectDatabase(uri, embedded ? 'roster' : undefined, {
    connectTimeoutMs: config.mongodb.connectTimeoutMs,
    warn: (message) => logger.warn(message),
  });

  const missing: PrincipalKind[] = [];
  // SCIM clients may instead use OAuth (registered clients or trusted issuers): production needs no SCIM token then.
  const oauthOnly = config.production && (config.oauth.enabled || config.oauth.trustedIssuers.length > 0);
  if (config.auth.scimTokens.length === 0 && !oauthOnly) missing.push('scim');
  if (config.auth.adminTokens.length === 0) missing.push('admin');
  if (missing.length && config.production) {
    logger.fatal(
      `no ${missing.join(' or ')} token configured (ROSTER_SCIM_TOKEN, ROSTER_ADMIN_TOKEN); refusing to start in production`,
    );
    process.exit(78);
  }
  // Without a verify token POST /auth/verify refuses every caller (production may not need it).
  if (config.auth.verifyTokens.length === 0 && !config.production) missing.push('verify');
  const dev = developmentTokens(dataDir, missing);
  for (const t of dev.created) {
    // Printed once, to the terminal only (never through the logger); kept in the data folder.
    process.stdout.write(
      `\nGenerated development ${t.kind} token (saved in ${dataDir}/dev-tokens.json):\n  ${t.token}\n\n`,
    );
  }
  if (dev.tokens.length > dev.created.length) logger.info(`using development tokens from ${dataDir}/dev-tokens.json`);

  const roster = await createRoster({ config, db, logger, extraTokens: dev.tokens, defaultMetrics: true });
  await roster.start();
  const server: Server = createServer(roster.app.callback());
  server.keepAliveTimeout = 65_000;
  // A CSV import streams its body for as long as the file takes to apply (minutes for 100k lines);
  // Node's default 5-minute request timeout would cut it off. headersTimeout still guards slow clients.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(config.server.port, config.server.host, resolve));
  logger.info(
    { config: redactConfig(config) },
    `roster listening on http://${config.server.host}:${config.server.port}; console at ${config.server.publicUrl}/console`,
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    roster.setAccepting(false);
    const forced = setTimeout(() => {
      logger.warn('grace period over; closing remaining connections');
      server.closeAllConnections();
    }, config.server.shutdownGraceMs);
    // Connections busy at close() stay open; answers now carry "Connection: close", and idle ones
    // are closed as they become idle.
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    clearInterval(sweep);
    clearTimeout(forced);
    await roster.stop();
    await client.close();
    await embedded?.stop();
    logger.info('stopped');
    process.exit(0);
  };
  // SIGHUP reloads the configuration file; a bad file is refused and the running one kept.
  process.on('SIGHUP', () => {
    void (async () => {
      try {
        const { restartNeeded } = await roster.reload(loadConfigWithKey());
        logger.info('configuration reloaded');
        if (restartNeeded.length)
          logger.warn({ keys: restartNeeded }, 'these settings changed but apply only after a restart');
      } catch (err) {
        roster.reloadRefused((err as Error).message);
        logger.error(
          { err: (err as Error).message },
          'configuration reload refused; keeping the running configuration',
        );
      }
    })();
  });
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof KeyEncryptionError) {
    // Stored secrets this key cannot open: the message names the key ids and what to do.
    process.stderr.write(`roster: ${err.message}\n`);
    process.exit(78);
  }
  process.stderr.write(`roster: failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
