/**
 * A directory's own settings (README "Directories"): the parts of the configuration file each
 * directory may set for itself, stored with the directory as an overlay on the file's values (the
 * defaults). Validated by the configuration schema's own sections, so a directory's value and the
 * file's obey one rule and are refused with the same message, naming the key.
 */
import { z } from 'zod';
import { overlay, type Config, type Json } from './index.js';
import { TEMPLATE_NAMES, withOverrides, type Templates } from '../mail/templates.js';
import { configSchema } from './schema.js';

const sections = configSchema.shape;

/** What a directory may set: a deep-partial overlay of these sections. */
const settingsSchema = z.strictObject({
  users: z
    .strictObject({
      defaultState: sections.users.shape.defaultState.partial().optional(),
      defaultPasswordAuthority: sections.users.shape.defaultPasswordAuthority.optional(),
    })
    .optional(),
  passwords: sections.passwords.partial().optional(),
  activation: sections.activation.partial().optional(),
  reminders: sections.reminders.pick({ noLoginDays: true }).partial().optional(),
  mail: sections.mail.pick({ from: true, orgName: true, portalUrl: true }).partial().optional(),
  /** Email templates of the directory's own, each whole (README "Emails"); the file's for the rest. */
  templates: z
    .partialRecord(
      z.enum(TEMPLATE_NAMES),
      z.strictObject({ subject: z.string().max(1000), text: z.string().max(100_000), html: z.string().max(200_000) }),
    )
    .optional(),
});

export type DirectorySettings = z.infer<typeof settingsSchema>;

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid settings: ${problems.join('; ')}`);
    this.name = 'SettingsError';
  }
}

/**
 * The settings checked: only the keys a directory may set, each valid on its own, and the result
 * over the file's values valid as a whole (e.g. passwords.minLength not above maxLength).
 */
export function checkDirectorySettings(raw: unknown, defaults: Config, templates?: Templates): DirectorySettings {
  const parsed = settingsSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new SettingsError(parsed.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`));
  }
  const effective = directoryConfig(defaults, parsed.data);
  if (effective.passwords.minLength > effective.passwords.maxLength) {
    throw new SettingsError(['passwords.minLength: must not exceed passwords.maxLength']);
  }
  if (parsed.data.templates && templates) {
    try {
      withOverrides(templates, parsed.data.templates, 'templates');
    } catch (err) {
      throw new SettingsError([(err as Error).message.replace(/^email template /, '')]);
    }
  }
  return parsed.data;
}

/**
 * RFC 7396 JSON merge patch of stored settings: objects merge, `null` removes a key (the
 * directory then follows the file's value again).
 */
export function mergeSettings(current: Json, patch: Json): Json {
  const out: Json = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (typeof value === 'object' && !Array.isArray(value) && typeof out[key] === 'object' && out[key] !== null)
      out[key] = mergeSettings(out[key] as Json, value as Json);
    else out[key] = value;
  }
  return out;
}

/** The directory's effective configuration: the file's, its settings over it, and its public URL. */
export function directoryConfig(base: Config, settings: DirectorySettings, publicUrl?: string): Config {
  const { templates: _templates, ...configKeys } = settings;
  const merged = overlay(base as unknown as Json, configKeys as Json) as unknown as Config;
  return publicUrl ? { ...merged, server: { ...merged.server, publicUrl } } : merged;
}

/** The values a directory's settings decide, as it has them now (for GET .../settings). */
export function effectiveSettings(config: Config): Json {
  return {
    users: config.users,
    passwords: config.passwords,
    activation: config.activation,
    reminders: { noLoginDays: config.reminders.noLoginDays },
    mail: { from: config.mail.from, orgName: config.mail.orgName, portalUrl: config.mail.portalUrl },
  };
}
