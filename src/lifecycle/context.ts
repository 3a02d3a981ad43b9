import type { Config } from '../config/index.js';
import type { NewEvent } from '../events/types.js';
import type { Jobs } from '../jobs/index.js';
import type { StoredUser } from '../users/mapping.js';
import type { UserService } from '../users/service.js';
import type { LinkTokens } from './store.js';

/** What the lifecycle's parts (credentials, emails, states and schedules) share. */
export interface LifecycleContext {
  config: Config;
  users: UserService;
  jobs: Jobs;
  linkTokens: LinkTokens;
  recordEvent(event: NewEvent): Promise<void>;
  now: () => Date;
  /** The user, or 404 in the admin shape. */
  loadUser(id: string): Promise<StoredUser>;
}
