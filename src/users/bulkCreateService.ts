/** Many creates in a few writes (SCIM /Bulk, the CSV import): each input judged as create() judges it. */
import { isRefusal, type Refusal } from '../errors.js';
import { validateResource } from '../scim/validate.js';
import type { WriteContext } from './contracts.js';
import type { StoredUser } from './mapping.js';
import { conflictFor, userEvent, type UserWriteKit } from './updateService.js';

export function createUserBatches(kit: UserWriteKit) {
  const { users, schemas } = kit;

  /** createMany's first half, which touches no database: validated and built documents, or refusals. */
  async function prepareMany(inputs: unknown[], ctx: WriteContext): Promise<(StoredUser | Refusal)[]> {
    const built: (StoredUser | Refusal)[] = [];
    for (const input of inputs) {
      try {
        const resource = validateResource(input, { schemas, mode: 'create' });
        built.push(await kit.documents.buildDocument(resource, undefined, ctx));
      } catch (err) {
        if (!isRefusal(err)) throw err;
        built.push(err);
      }
    }
    return built;
  }

  /**
   * createMany's second half: writes what prepareMany built (refusals pass through). Returns once
   * the users are written; `recorded` settles when their events and effects are too, so a caller
   * may write its next batch of users meanwhile (it must handle `recorded`'s failure).
   */
  async function writeMany(
    built: (StoredUser | Refusal)[],
    ctx: WriteContext,
  ): Promise<{ outcomes: (StoredUser | Refusal)[]; recorded: Promise<void> }> {
    const docs = built.filter((b): b is StoredUser => !isRefusal(b));
    const refused = await users.insertMany(docs);
    const created: StoredUser[] = [];
    const outcome = new Map<StoredUser, Refusal | undefined>();
    docs.forEach((doc, i) => {
      const err = refused[i];
      outcome.set(doc, err ? conflictFor(err) : undefined);
      if (!err) created.push(doc);
    });
    const recorded = (async () => {
      await kit.recordEvents(created.map((user) => userEvent('user_create', user, ctx)));
      for (const user of created) await kit.effects?.afterCreate(user, ctx);
    })();
    return { outcomes: built.map((b) => (isRefusal(b) ? b : (outcome.get(b) ?? b))), recorded };
  }

  return {
    prepareMany,
    writeMany,

    /**
     * Many creates in a few writes (SCIM /Bulk, CSV import): each input is validated and built as by
     * create(); claims, users and events are written in batches. Per input, the user or its error.
     */
    async createMany(inputs: unknown[], ctx: WriteContext): Promise<(StoredUser | Refusal)[]> {
      const { outcomes, recorded } = await writeMany(await prepareMany(inputs, ctx), ctx);
      await recorded;
      return outcomes;
    },
  };
}
