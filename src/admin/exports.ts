/**
 * User export (GET /admin/v1/exports/users): every user in creation order, streamed from a cursor
 * in batches, never the whole directory in memory.
 *
 * - CSV: exportHeader(maxGroups) and scimUserToCsvRow, the columns the import accepts, so an
 *   export imports back into an empty Roster. Groups are the user's direct groups by name
 *   (sorted), the manager is the manager's userName, Password is empty. maxGroups comes from one
 *   pass over the memberships (sorted by member) before the first row; a user who joins more
 *   groups while the export runs is written with the first maxGroups of them.
 * - JSON: an array of users in SCIM form (no password data), `groups` being the direct groups.
 * CSV cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR)
 * are written with a leading `'` (protectCell), which the import removes again; `raw` writes the
 * values as stored.
 */
import { stringify } from 'csv-stringify/sync';
import { scimBaseUrl, type Config } from '../config/index.js';
import type { MembershipRepository } from '../groups/membershipRepository.js';
import type { GroupRepository } from '../groups/repository.js';
import { toScimUser, type StoredUser } from '../users/mapping.js';
import type { UserRepository } from '../users/repository.js';
import { protectCell } from './csvCells.js';
import { exportHeader, scimUserToCsvRow } from './csvExportRow.js';

const BATCH = 500;
const MAX_NAME_CACHE = 50_000;

export type ExportFormat = 'csv' | 'json';

interface GroupName {
  id: string;
  name: string;
}

export interface ExporterDeps {
  config: Config;
  users: UserRepository;
  groups: GroupRepository;
  memberships: MembershipRepository;
}

export type Exporter = ReturnType<typeof createExporter>;

export function createExporter(deps: ExporterDeps) {
  const { users, groups, memberships } = deps;
  const baseUrl = () => scimBaseUrl(deps.config);

  /** Users in creation order, a batch at a time, with their direct group names and manager userName. */
  async function* batches(): AsyncGenerator<{ user: StoredUser; groups: GroupName[]; manager?: string }[]> {
    const groupNames = new Map<string, string>();
    const cursor = users.streamAll(BATCH);
    let batch: StoredUser[] = [];
    const flush = async () => {
      const ids = batch.map((u) => u._id);
      const direct = await memberships.ofUsers(ids);
      const unknownGroups = [...new Set(direct.map((m) => m.groupId))].filter((g) => !groupNames.has(g));
      if (groupNames.size + unknownGroups.length > MAX_NAME_CACHE) groupNames.clear();
      for (const g of await groups.findByIds(unknownGroups)) groupNames.set(g._id, g.displayName);
      const byUser = new Map<string, GroupName[]>();
      for (const m of direct) {
        const name = groupNames.get(m.groupId);
        if (name === undefined) continue; // the group was deleted meanwhile
        byUser.set(m.memberId, [...(byUser.get(m.memberId) ?? []), { id: m.groupId, name }]);
      }
      const managerIds = [
        ...new Set(
          batch
            .map((u) => (u.enterprise?.manager as { value?: string } | undefined)?.value)
            .filter((v): v is string => typeof v === 'string'),
        ),
      ];
      const managers = new Map(
        managerIds.length ? (await users.findByIds(managerIds, { userName: 1 })).map((u) => [u._id, u.userName]) : [],
      );
      const out = batch.map((user) => {
        const managerId = (user.enterprise?.manager as { value?: string } | undefined)?.value;
        return {
          user,
          groups: (byUser.get(user._id) ?? []).sort((a, b) => a.name.localeCompare(b.name)),
          manager: managerId ? managers.get(managerId) : undefined,
        };
      });
      batch = [];
      return out;
    };
    for await (const user of cursor) {
      batch.push(user);
      if (batch.length >= BATCH) yield await flush();
    }
    if (batch.length) yield await flush();
  }

  async function* csv(max: number, raw: boolean): AsyncGenerator<string> {
    const cell = raw ? (value: string) => value : protectCell;
    const header = exportHeader(max);
    yield stringify([header]);
    for await (const batch of batches()) {
      const rows = batch.map(({ user, groups: names, manager }) => {
        const row = scimUserToCsvRow(
          toScimUser(user, baseUrl(), undefined),
          names.slice(0, max).map((g) => g.name),
          manager,
        );
        return header.map((h) => cell(row[h] ?? ''));
      });
      yield stringify(rows);
    }
  }

  async function* json(): AsyncGenerator<string> {
    yield '[';
    let first = true;
    for await (const batch of batches()) {
      const parts = batch.map(({ user, groups: direct }) =>
        JSON.stringify(
          toScimUser(
            user,
            baseUrl(),
            direct.map((g) => ({ value: g.id, display: g.name, type: 'direct' as const })),
          ),
        ),
      );
      yield `${first ? '\n' : ',\n'}${parts.join(',\n')}`;
      first = false;
    }
    yield first ? ']\n' : '\n]\n';
  }

  return {
    /**
     * Starts an export. The first query runs before this resolves, so an unreachable database is
     * an error answer rather than a cut-off download.
     */
    async open(
      format: ExportFormat,
      options: { raw?: boolean } = {},
    ): Promise<{ contentType: string; filename: string; chunks: AsyncIterable<string> }> {
      const stamp = new Date().toISOString().slice(0, 10);
      if (format === 'csv') {
        const max = await memberships.maxGroupsPerUser();
        const chunks = csv(max, options.raw ?? false);
        return { contentType: 'text/csv; charset=utf-8', filename: `users-${stamp}.csv`, chunks };
      }
      await users.ping();
      return { contentType: 'application/json; charset=utf-8', filename: `users-${stamp}.json`, chunks: json() };
    },
  };
}
