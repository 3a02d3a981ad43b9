/** A directory as stored (README "Directories"): one organization's isolated namespace. */
import type { DirectorySettings } from '../config/directorySettings.js';

export type DirectoryStatus = 'active' | 'suspended' | 'deleted';

export interface Directory {
  /** A UUID; the default directory's is `default` (src/directory.ts). */
  _id: string;
  /** Short, unique, in the directory's URLs: /directories/{slug}/scim/v2. */
  slug: string;
  name: string;
  status: DirectoryStatus;
  /** The directory's own settings over the configuration file's (src/config/directorySettings.ts). */
  settings: DirectorySettings;
  createdAt: Date;
  updatedAt: Date;
  /** Deleted: when, and from when the purge removes its data. */
  deletedAt?: Date;
  purgeAfter?: Date;
  /** Bumped by every change; changes are conditional on it. */
  version: number;
  /** Its SCIM traffic, as the instances last wrote it (directories/activity.ts). */
  activity?: DirectoryActivity;
}

export interface DirectoryActivity {
  lastScimRequestAt?: Date;
  /** Requests and refusals (status 400 and above) since the directory was made. */
  scimRequests: number;
  scimErrors: number;
  lastScimErrorAt?: Date;
}

/** Lower-case letters, digits and inner hyphens, 2-40 long: safe in a URL path. */
export const SLUG_RULE = /^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$/;
/** A slug never has an id's shape (a UUID), so where either is taken (the CLI) it reads one way only. */
export const ID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const SLUG_RULE_TEXT =
  '2-40 lower-case letters, digits and hyphens, starting and ending with a letter or digit, not shaped like a UUID';
