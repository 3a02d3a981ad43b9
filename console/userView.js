import { h } from './dom.js';

export const LIFECYCLE = 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

export const lifecycleOf = (user) => user[LIFECYCLE] ?? {};

/** The company email: primary, else work, else the first (README "States and sources"). */
export function companyEmail(user) {
  const emails = user.emails ?? [];
  return (emails.find((e) => e.primary) ?? emails.find((e) => e.type === 'work') ?? emails[0])?.value;
}

export function stateBadge(state) {
  return h('span', { class: `badge ${String(state ?? '').toLowerCase()}` }, state ?? '—');
}
