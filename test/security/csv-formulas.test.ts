import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRoster, TOKENS, type TestRoster } from '../helpers/roster.js';

/** Issue 16: values a spreadsheet would run as formulas are exported as text, and import back unchanged. */
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const HOSTILE = [
  '=HYPERLINK("http://evil.example","x")',
  '+SUM(1,2)',
  '-2+3',
  '@cmd',
  '\tTabbed',
  '\rReturn',
  "'=already quoted",
  "''+twice",
  "'plain quote",
  'Plain',
];

let source: TestRoster;
let target: TestRoster;
beforeAll(async () => {
  source = await startTestRoster();
  target = await startTestRoster();
  for (const [i, value] of HOSTILE.entries()) {
    const res = await source.scim().post('/Users', {
      schemas: [USER],
      userName: `formula${i}@example.com`,
      name: { givenName: value, familyName: 'F' },
      title: value,
    });
    expect(res.status, value).toBe(201);
  }
});
afterAll(async () => {
  await source?.close();
  await target?.close();
});

async function exportCsv(t: TestRoster, query = '') {
  const res = await t.request
    .get(`/admin/v1/exports/users${query}`)
    .set('Authorization', `Bearer ${TOKENS.admin}`)
    .buffer(true)
    .parse((r, done) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (text += c));
      r.on('end', () => done(null, text));
    });
  expect(res.status).toBe(200);
  return { text: res.body as string, rows: parse(res.body as string, { columns: true }) as Record<string, string>[] };
}

describe('CSV export and formulas', () => {
  it('prefixes every formula-looking cell with a quote, and leaves the others alone', async () => {
    const { rows } = await exportCsv(source);
    const byName = new Map(rows.map((r) => [r.Username, r]));
    for (const [i, value] of HOSTILE.entries()) {
      const row = byName.get(`formula${i}@example.com`)!;
      const startsFormula = /^'*[=+\-@\t\r]/.test(value);
      expect(row.FirstName, value).toBe(startsFormula ? `'${value}` : value);
      expect(row.jobTitle, value).toBe(row.FirstName);
      // What a spreadsheet would evaluate: nothing starts with a formula character any more.
      expect(row.FirstName).not.toMatch(/^[=+\-@\t\r]/);
    }
  });

  it('raw=true exports the values as stored; a bad raw value is 400', async () => {
    const { rows } = await exportCsv(source, '?raw=true');
    const row = rows.find((r) => r.Username === 'formula0@example.com')!;
    expect(row.FirstName).toBe(HOSTILE[0]);
    const bad = await source.request
      .get('/admin/v1/exports/users?raw=yes')
      .set('Authorization', `Bearer ${TOKENS.admin}`);
    expect(bad.status).toBe(400);
  });

  it('an export imports back into exactly the same values', async () => {
    const { text } = await exportCsv(source);
    const res = await target.request
      .post('/admin/v1/imports')
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .set('Content-Type', 'text/csv')
      .send(text);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.failed).toBe(0);
    for (const [i, value] of HOSTILE.entries()) {
      const found = await target.scim().get(`/Users?filter=userName eq "formula${i}@example.com"`);
      expect(found.body.Resources[0].name.givenName, JSON.stringify(value)).toBe(value);
      expect(found.body.Resources[0].title).toBe(value);
    }
  });
});
