/**
 * The database made ready before anything is built on it: collections renamed and old indexes
 * dropped (migrations), the data of a database older than directories moved into the default one
 * (whose document is made here), every feature's indexes, stored secrets sealed with the current key
 * (README "Keys at rest"; no key, or stored secrets this key cannot open, stop here), and on a
 * sharded database, no unique index the engine would not enforce (src/db/shardCheck.ts).
 */
import type { Db } from 'mongodb';
import { CONSOLE_SESSION_INDEXES } from '../console/sessions.js';
import type { Config } from '../config/index.js';
import {
  bindReceiversByPrincipalId,
  dropIndexesWithoutDirectory,
  dropRetiredIndexes,
  moveIntoDefaultDirectory,
  renameCollections,
} from '../db/migrations.js';
import { createDirectoryRepository, DIRECTORY_INDEXES } from '../directories/repository.js';
import { defaultDirectory } from '../directories/service.js';
import { TOKEN_INDEXES } from '../directories/tokenRepository.js';
import { AGENDA_COLLECTION, SEND_EMAIL_JOB } from '../jobs/index.js';
import { STATE_CHANGE_JOB } from '../lifecycle/service.js';
import { PUSH_JOB } from '../securityEvents/index.js';
import { ensureIndexes, type IndexSpec } from '../db/mongo.js';
import { checkShardedUniqueIndexes, shardKeysOf } from '../db/shardCheck.js';
import { EVENT_INDEXES } from '../events/repository.js';
import { MEMBERSHIP_INDEXES } from '../groups/membershipRepository.js';
import { GROUP_INDEXES } from '../groups/repository.js';
import type { DevToken } from '../http/devTokens.js';
import { createSecretBox, type SecretBox } from '../keys/keyEncryption.js';
import { resealStoredSecrets } from '../keys/sealedSecrets.js';
import { SIGNING_KEY_INDEXES, SIGNING_KEY_SECRET } from '../keys/signingKeys.js';
import { LIFECYCLE_INDEXES } from '../lifecycle/store.js';
import type { Logger } from '../logger.js';
import { OAUTH_INDEXES } from '../oauth/index.js';
import { SECURITY_EVENT_INDEXES } from '../securityEvents/index.js';
import { RECEIVER_SECRET } from '../securityEvents/receivers.js';
import { USER_INDEXES } from '../users/repository.js';

const INDEXES: IndexSpec[] = [
  ...EVENT_INDEXES,
  ...USER_INDEXES,
  ...GROUP_INDEXES,
  ...MEMBERSHIP_INDEXES,
  ...LIFECYCLE_INDEXES,
  ...SIGNING_KEY_INDEXES,
  ...CONSOLE_SESSION_INDEXES,
  ...OAUTH_INDEXES,
  ...SECURITY_EVENT_INDEXES,
  ...DIRECTORY_INDEXES,
  ...TOKEN_INDEXES,
];

/** The jobs that work on one directory's data: their data names it (src/jobs/agenda.ts). */
const DIRECTORY_JOBS = { collection: AGENDA_COLLECTION, names: [SEND_EMAIL_JOB, STATE_CHANGE_JOB, PUSH_JOB] };

/** Migrates, indexes and reseals; returns the secret box the stores of secrets use. */
export async function prepareDatabase(
  db: Db,
  config: Config,
  extraTokens: DevToken[] | undefined,
  logger: Logger,
): Promise<SecretBox> {
  await renameCollections(db);
  await dropRetiredIndexes(db);
  await bindReceiversByPrincipalId(
    db,
    [...config.auth.scimTokens, ...(extraTokens ?? []).filter((t) => t.kind === 'scim')].map((t) => t.name),
  );
  await moveIntoDefaultDirectory(db, DIRECTORY_JOBS);
  await ensureIndexes(db, INDEXES);
  await dropIndexesWithoutDirectory(db);
  await checkShardedUniqueIndexes(db, await shardKeysOf(db));
  await createDirectoryRepository(db).ensure(defaultDirectory(new Date()));
  const secrets = createSecretBox({ current: config.keyEncryption.key, previous: config.keyEncryption.previousKeys });
  const resealed = await resealStoredSecrets(db, secrets, [SIGNING_KEY_SECRET, RECEIVER_SECRET]);
  if (resealed.sealed || resealed.resealed) {
    logger.info(
      { ...resealed, keyId: secrets.currentKeyId },
      'stored secrets sealed with the current key-encryption key (sealed: were in clear; resealed: had an older key)',
    );
  }
  return secrets;
}
