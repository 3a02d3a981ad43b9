/**
 * Users, groups and the lifecycle, built in dependency order (docs/ARCHITECTURE.md "Composition"):
 * the repositories; the lifecycle's effects (they need no user service); the user service with
 * those effects; the groups; the lifecycle's operations on top of the user service. Nothing is
 * wired after construction.
 */
import type { Db } from 'mongodb';
import type { Env } from '../events/env.js';
import type { EventLog } from '../events/repository.js';
import { createGroupsOfUsers } from '../groups/groupsOfUsers.js';
import { createMembershipRepository } from '../groups/membershipRepository.js';
import { createGroupRepository } from '../groups/repository.js';
import { createGroupService } from '../groups/service.js';
import type { Jobs } from '../jobs/index.js';
import { createLifecycleEffects } from '../lifecycle/effectsService.js';
import { checkPasswordPolicy, hashPassword, verifyPassword } from '../lifecycle/passwords.js';
import { createLifecycle } from '../lifecycle/service.js';
import { createLinkTokens, createSchedules } from '../lifecycle/store.js';
import type { SchemaRegistry } from '../scim/schemaRegistry.js';
import { createUserRepository } from '../users/repository.js';
import { createUserService, type PasswordRules } from '../users/service.js';

export type UsersAndGroups = Awaited<ReturnType<typeof wireUsers>>;

export async function wireUsers(parts: {
  env: Env;
  db: Db;
  registry: SchemaRegistry;
  events: Pick<EventLog, 'recordMany'>;
  jobs: Jobs;
}) {
  const { env, db, registry, events, jobs } = parts;
  const { config } = env;
  const userRepository = createUserRepository(db);
  const groupRepository = createGroupRepository(db);
  const memberships = createMembershipRepository(db);
  const lifecycleParts = {
    env,
    records: userRepository,
    jobs,
    linkTokens: createLinkTokens(db),
    schedules: createSchedules(db),
  };
  const passwords: PasswordRules = {
    hash: hashPassword,
    verify: verifyPassword,
    check: (password, user) =>
      checkPasswordPolicy(password, config.passwords, { username: user.userName, emails: user.emails }),
  };
  const users = createUserService({
    env,
    users: userRepository,
    groups: createGroupsOfUsers(memberships, groupRepository, env.now),
    schemas: registry.schemasOf('User'),
    recordEvents: (list) => events.recordMany(list),
    passwords,
    effects: createLifecycleEffects(lifecycleParts),
  });
  const groups = createGroupService({
    env,
    groups: groupRepository,
    memberships,
    users: userRepository,
    schemas: registry.schemasOf('Group'),
  });
  const lifecycle = createLifecycle({ ...lifecycleParts, users });
  await lifecycle.defineJobs();
  return { userRepository, groupRepository, memberships, users, groups, lifecycle };
}
