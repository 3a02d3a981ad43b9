import { randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { SigningKeys } from '../keys/signingKeys.js';
import type { BulkResult } from '../scim/bulk.js';
import type { ScimResource } from '../scim/validate.js';
import { resourceFor } from './claims.js';
import { pendingSet, type OutboxSet, type SetOutbox } from './outbox.js';
import type { Receiver } from './receivers.js';

/** RFC 9967 section 2.5.1.3: the completion of an asynchronous SCIM request. */
export const ASYNC_RESPONSE_URI = 'urn:ietf:params:scim:event:misc:asyncresp';

/** One operation's outcome as a SCIM Bulk response operation (RFC 7644 section 3.7.3). */
export type AsyncOutcome = BulkResult;

/**
 * The `sub_id` of an outcome: the resource's path (`/Users/{id}`) taken from its location, else the
 * path the operation was sent to (a create that failed has no resource).
 */
function subjectPath(outcome: AsyncOutcome, requestPath: string): string {
  const match = outcome.location && /\/(Users|Groups)\/([^/?#]+)$/.exec(outcome.location);
  return match ? `/${match[1]}/${match[2]}` : requestPath;
}

/**
 * An outcome as a receiver may see it: a resource in `response` (what a PUT or PATCH answered) follows
 * the receiver's level and attributes like every SET's data (claims.resourceFor: nothing at `notice`);
 * an error response (a SCIM Error, no resource) is kept, as it tells what went wrong.
 */
export function outcomeFor(outcome: AsyncOutcome, receiver: Pick<Receiver, 'level' | 'attributes'>): AsyncOutcome {
  const { response, ...rest } = outcome;
  if (response === undefined || Number(outcome.status) >= 400) return outcome;
  const shown = resourceFor(response as ScimResource, receiver, receiver.level);
  return shown ? { ...rest, response: shown } : rest;
}

/**
 * The claims of one asyncresp SET. For /Bulk, `txn` is the request's Set-Txn value, a colon and the
 * operation's zero-based index in the request (RFC 9967 section 2.5.1.2).
 */
export function asyncResponseClaims(input: {
  outcome: AsyncOutcome;
  requestPath: string;
  txn: string;
  audience: string;
  issuer: string;
  jti: string;
  issuedAt: Date;
}): JWTPayload {
  const { outcome } = input;
  const uri = subjectPath(outcome, input.requestPath);
  const id = /^\/(?:Users|Groups)\/([^/]+)$/.exec(uri)?.[1];
  return {
    iss: input.issuer,
    aud: input.audience,
    iat: Math.floor(input.issuedAt.getTime() / 1000),
    jti: input.jti,
    txn: input.txn,
    sub_id: { format: 'scim', uri, ...(id ? { id } : {}) },
    events: {
      [ASYNC_RESPONSE_URI]: {
        method: outcome.method,
        ...(outcome.bulkId ? { bulkId: outcome.bulkId } : {}),
        ...(outcome.version ? { version: outcome.version } : {}),
        ...(outcome.location ? { location: outcome.location } : {}),
        status: outcome.status,
        ...(outcome.response !== undefined ? { response: outcome.response } : {}),
      },
    },
  };
}

export interface AsyncResponderDeps {
  enabledReceivers(): Promise<Receiver[]>;
  outbox: SetOutbox;
  signingKeys: SigningKeys;
  issuer: () => string;
  queued(receiverIds: string[]): void;
  now: () => Date;
}

/** One finished operation of an asynchronous request, with its `txn` and the path it was sent to. */
export interface AsyncCompletion {
  txn: string;
  requestPath: string;
  outcome: AsyncOutcome;
}

/**
 * Asynchronous requests: which receivers answer a client's `Prefer: respond-async`, and writing
 * their asyncresp SETs to the outbox (so push and poll delivery, order and retries apply as to
 * every SET).
 */
export function createAsyncResponder(deps: AsyncResponderDeps) {
  const receiversOf = async (client: string) => (await deps.enabledReceivers()).filter((r) => r.client === client);

  return {
    /** Whether the client has an enabled receiver for its asynchronous responses. */
    async accepts(client: string): Promise<boolean> {
      return (await receiversOf(client)).length > 0;
    },

    /** Writes one asyncresp SET per completion for each of the client's receivers. */
    async publish(client: string, completions: AsyncCompletion[]): Promise<void> {
      const receivers = await receiversOf(client);
      if (!receivers.length || !completions.length) return;
      const first = await deps.outbox.reserve(receivers.length * completions.length);
      const issuedAt = deps.now();
      const docs: OutboxSet[] = [];
      for (const receiver of receivers) {
        for (const { txn, requestPath, outcome } of completions) {
          const jti = randomUUID().replace(/-/g, '');
          const claims = asyncResponseClaims({
            outcome: outcomeFor(outcome, receiver),
            requestPath,
            txn,
            audience: receiver.audience,
            issuer: deps.issuer(),
            jti,
            issuedAt,
          });
          docs.push(
            pendingSet({
              // Like the event SETs' ids: writing the same completion twice makes no second SET.
              _id: `async:${txn}:${receiver._id}`,
              receiverId: receiver._id,
              eventId: `async:${txn}`,
              seq: first + docs.length,
              jti,
              set: await deps.signingKeys.sign(claims, 'secevent+jwt'),
              createdAt: issuedAt,
            }),
          );
        }
      }
      await deps.outbox.insert(docs);
      deps.queued(receivers.map((r) => r._id));
    },
  };
}

export type AsyncResponder = ReturnType<typeof createAsyncResponder>;
