/**
 * Directories (README "Directories"): created, renamed, suspended, deleted (kept for the retention
 * period, then purged) by operators; their settings changed by their admins; resolved for each
 * request from its path. Each change is recorded in the event log of the directory it concerns.
 */
import { randomUUID } from 'node:crypto';
import {
  checkDirectorySettings,
  directoryConfig,
  mergeSettings,
  SettingsError,
  type DirectorySettings,
} from '../config/directorySettings.js';
import type { Config, Json } from '../config/index.js';
import { DEFAULT_DIRECTORY, inDirectory } from '../directory.js';
import { ConflictError, InvalidError, NotFoundError } from '../errors.js';
import type { Env } from '../events/env.js';
import type { Templates } from '../mail/templates.js';
import type { Actor, EventChange } from '../events/types.js';
import type { DirectoryRepository } from './repository.js';
import { ID_SHAPE, SLUG_RULE, SLUG_RULE_TEXT, type Directory } from './types.js';

/** How long an instance trusts what it read of a directory (a suspension elsewhere is seen within it). */
const CACHE_MS = 2000;
const MAX_LISTED = 10_000;

export interface DirectoryCounts {
  users: number;
  groups: number;
}

export interface DirectoryServiceDeps {
  env: Pick<Env, 'now' | 'recordEvent'>;
  directories: DirectoryRepository;
  /** The configuration file's values: the defaults every directory's settings overlay. */
  baseConfig: () => Config;
  /** The template files: what a directory's own templates replace (and are checked against). */
  fileTemplates: () => Templates;
  /** Counts of the current directory's data (run inside it). */
  counts: () => Promise<DirectoryCounts>;
  /** Removes every document of the current directory's data and its jobs (run inside it). */
  purgeData: () => Promise<void>;
}

/** The default directory's document, as the migration and every start-up ensure it. */
export function defaultDirectory(now: Date): Directory {
  return {
    _id: DEFAULT_DIRECTORY,
    slug: DEFAULT_DIRECTORY,
    name: 'Default directory',
    status: 'active',
    settings: {},
    createdAt: now,
    updatedAt: now,
    version: 1,
  };
}

const settingsError = (err: unknown) => {
  if (err instanceof SettingsError) throw new InvalidError(err.message, { code: 'invalid_settings' });
  throw err;
};

/** Where a directory is served: the root for the default one, `/directories/{slug}` for the others. */
export function directoryPublicUrl(directory: Pick<Directory, '_id' | 'slug'>, publicUrl: string): string {
  return directory._id === DEFAULT_DIRECTORY ? publicUrl : `${publicUrl}/directories/${directory.slug}`;
}

/** The directory's effective configuration: its settings over the file's, its own public URL. */
export function directoryConfigOf(directory: Directory, base: Config): Config {
  if (directory._id === DEFAULT_DIRECTORY) return directoryConfig(base, directory.settings);
  const config = directoryConfig(base, directory.settings, directoryPublicUrl(directory, base.server.publicUrl));
  // The file's trusted issuers are the default directory's credentials, never another's.
  return { ...config, oauth: { ...config.oauth, trustedIssuers: [] } };
}

export function createDirectoryService(deps: DirectoryServiceDeps) {
  const { directories, env } = deps;
  const cache = new Map<string, { at: number; found: Promise<Directory | undefined> }>();
  const forget = () => cache.clear();

  /** The last document read of each directory, by id (for work that enters one without a read). */
  const lastSeen = new Map<string, Directory>();

  /**
   * Read at most every CACHE_MS; when a read fails (the database is away) the last one read keeps
   * serving, so the directory's requests fail on their own database work, not on this look-up.
   */
  function cached(key: string, load: () => Promise<Directory | undefined>) {
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.found;
    const found = load().then((directory) => {
      if (directory) lastSeen.set(directory._id, directory);
      return directory;
    });
    cache.set(key, { at: Date.now(), found });
    found.catch(() => {
      if (hit) cache.set(key, hit);
      else cache.delete(key);
    });
    return hit ? found.catch(() => hit.found) : found;
  }

  async function load(id: string): Promise<Directory> {
    const directory = await directories.byId(id);
    if (!directory) throw new NotFoundError('No such directory', { code: 'not_found' });
    return directory;
  }

  /** A change conditional on the version read, recorded in the directory's own event log. */
  async function change(
    directory: Directory,
    set: Partial<Directory>,
    event: { type: Parameters<Env['recordEvent']>[0]['type']; actor: Actor; changes?: EventChange[] },
    unset: (keyof Directory)[] = [],
  ): Promise<Directory> {
    const updated = await directories.update(directory._id, directory.version, { ...set, updatedAt: env.now() }, unset);
    if (!updated)
      throw new ConflictError('The directory was changed at the same time; read it again', { code: 'conflict' });
    forget();
    lastSeen.set(updated._id, updated);
    await inDirectory(updated._id, () =>
      env.recordEvent({
        type: event.type,
        resource: { type: 'Directory', id: updated._id, username: updated.slug },
        initiatedBy: event.actor,
        ...(event.changes ? { changes: event.changes } : {}),
      }),
    );
    return updated;
  }

  return {
    async create(input: { slug?: unknown; name?: unknown; settings?: unknown }, actor: Actor): Promise<Directory> {
      if (typeof input.slug !== 'string' || !SLUG_RULE.test(input.slug) || ID_SHAPE.test(input.slug))
        throw new InvalidError(`slug must be ${SLUG_RULE_TEXT}`, { code: 'invalid_slug' });
      if (input.slug === DEFAULT_DIRECTORY) throw new ConflictError('The slug is taken', { code: 'slug_taken' });
      if (typeof input.name !== 'string' || !input.name.trim() || input.name.length > 200)
        throw new InvalidError('name must be a non-empty string of at most 200 characters', { code: 'invalid_name' });
      let settings: DirectorySettings = {};
      try {
        settings = checkDirectorySettings(input.settings, deps.baseConfig(), deps.fileTemplates());
      } catch (err) {
        settingsError(err);
      }
      const now = env.now();
      const directory: Directory = {
        _id: randomUUID(),
        slug: input.slug,
        name: input.name.trim(),
        status: 'active',
        settings,
        createdAt: now,
        updatedAt: now,
        version: 1,
      };
      if (!(await directories.insert(directory))) throw new ConflictError('The slug is taken', { code: 'slug_taken' });
      await inDirectory(directory._id, () =>
        env.recordEvent({
          type: 'directory_created',
          resource: { type: 'Directory', id: directory._id, username: directory.slug },
          initiatedBy: actor,
        }),
      );
      return directory;
    },

    get: load,

    async list(): Promise<(Directory & { counts: DirectoryCounts })[]> {
      const list = await directories.list(MAX_LISTED);
      return Promise.all(
        list.map(async (d) => ({
          ...d,
          counts: d.status === 'deleted' ? { users: 0, groups: 0 } : await inDirectory(d._id, deps.counts),
        })),
      );
    },

    counts: (id: string) => inDirectory(id, deps.counts),

    /**
     * Renames, suspends (SCIM refused, no emails) or resumes; a deleted directory given a status
     * within its retention period is restored. The default directory is never suspended.
     */
    async update(id: string, patch: { name?: unknown; status?: unknown }, actor: Actor): Promise<Directory> {
      const directory = await load(id);
      const set: Partial<Directory> = {};
      const changes: EventChange[] = [];
      if (patch.status !== undefined) {
        if (patch.status !== 'active' && patch.status !== 'suspended')
          throw new InvalidError('status must be "active" or "suspended"', { code: 'invalid_status' });
        if (patch.status === 'suspended' && id === DEFAULT_DIRECTORY)
          throw new ConflictError('The default directory cannot be suspended', { code: 'default_directory' });
        set.status = patch.status;
        changes.push({ field: 'status', from: directory.status, to: set.status });
      } else if (directory.status === 'deleted') {
        throw new ConflictError('The directory is deleted; restore it with a status first', { code: 'deleted' });
      }
      if (patch.name !== undefined) {
        if (typeof patch.name !== 'string' || !patch.name.trim() || patch.name.length > 200)
          throw new InvalidError('name must be a non-empty string of at most 200 characters', { code: 'invalid_name' });
        set.name = patch.name.trim();
        changes.push({ field: 'name', from: directory.name, to: set.name });
      }
      if (!changes.length) return directory;
      if (directory.status === 'deleted')
        return change(directory, set, { type: 'directory_restored', actor, changes }, ['deletedAt', 'purgeAfter']);
      return change(directory, set, { type: 'directory_updated', actor, changes });
    },

    /** Soft delete: refused everywhere at once, data kept `directories.retentionDays`, then purged. */
    async remove(id: string, actor: Actor): Promise<Directory> {
      if (id === DEFAULT_DIRECTORY)
        throw new ConflictError('The default directory cannot be deleted', { code: 'default_directory' });
      const directory = await load(id);
      if (directory.status === 'deleted') return directory;
      const now = env.now();
      const purgeAfter = new Date(now.getTime() + deps.baseConfig().directories.retentionDays * 86_400_000);
      return change(directory, { status: 'deleted', deletedAt: now, purgeAfter }, { type: 'directory_deleted', actor });
    },

    /** Purges the deleted directories whose retention has passed; returns their ids. */
    async purgeDue(): Promise<string[]> {
      const due = await directories.duePurges(env.now());
      for (const id of due) {
        await inDirectory(id, deps.purgeData);
        await directories.remove(id);
      }
      if (due.length) forget();
      return due;
    },

    /** Replaces (PUT) or merges into (PATCH, RFC 7396) the directory's settings. */
    async changeSettings(id: string, body: unknown, mode: 'replace' | 'merge', actor: Actor): Promise<Directory> {
      const directory = await load(id);
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new InvalidError('The settings must be a JSON object', { code: 'invalid_settings' });
      const next = mode === 'replace' ? body : mergeSettings(directory.settings as Json, body as Json);
      let settings: DirectorySettings = {};
      try {
        settings = checkDirectorySettings(next, deps.baseConfig(), deps.fileTemplates());
      } catch (err) {
        settingsError(err);
      }
      return change(
        directory,
        { settings },
        {
          type: 'directory_settings_changed',
          actor,
          changes: [{ field: 'settings', from: directory.settings, to: settings }],
        },
      );
    },

    /** The directory a request names, cached briefly; undefined when there is none. */
    bySlug: (slug: string) => cached(`slug:${slug}`, () => directories.bySlug(slug)),
    byId: (id: string) => cached(`id:${id}`, () => directories.byId(id)),

    configOf: directoryConfigOf,
    liveIds: () => directories.liveIds(),
    /** The last document read of a directory, if any (no database read). */
    lastSeen: (id: string) => lastSeen.get(id),
    ensureDefault: () => directories.ensure(defaultDirectory(env.now())),
  };
}

export type DirectoryService = ReturnType<typeof createDirectoryService>;
