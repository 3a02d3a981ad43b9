/**
 * Memory and speed of a large CSV import: `npx tsx bench/import-memory.ts [--lines 100000]`.
 *
 * Writes a generated CSV to a temporary file, builds Roster (`npm run build`) and starts it as
 * production does (`node dist/main.js`, the Docker image's command) as a child process on loopback
 * against MONGODB_URI or an embedded database (FerretDB v2 on PostgreSQL here), streams the file
 * to POST /admin/v1/imports over http, and samples the server's resident memory (VmRSS in
 * /proc/<pid>/status) every 200 ms. Prints lines, seconds, lines/s, baseline and peak RSS, and
 * where the machine's CPU went per line (Roster, FerretDB, the rest: PostgreSQL and anything else).
 * BENCH_CPU_PROF=1: the server writes a V8 CPU profile under ./bench-profiles.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, startEmbeddedDatabase, type EmbeddedDatabase } from '../src/devdb/embedded.js';
import { cpuMs, machineBusyMs, rssMb } from './procs.js';

const ROOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN = `bench-admin-${randomUUID()}`;
const SCIM = `bench-scim-${randomUUID()}`;
const GROUPS = ['Engineering', 'Sales', 'Support', 'Finance'];

const { values } = parseArgs({
  options: { lines: { type: 'string', default: '100000' } },
});
const LINES = Number(values.lines);

function generate(file: string, lines: number) {
  const rows = ['Username,FirstName,LastName,Email,jobTitle,department,employeeIdentifier,manager,Group1,Group2'];
  for (let i = 0; i < lines; i++) {
    const manager = i >= 100 ? `user${i % 100}@bench.example` : '';
    rows.push(
      [
        `user${i}@bench.example`,
        `First${i}`,
        `Last${i}`,
        `user${i}@bench.example`,
        'Engineer',
        `Dept ${i % 20}`,
        `E${100000 + i}`,
        manager,
        GROUPS[i % GROUPS.length],
        i % 3 === 0 ? GROUPS[(i + 1) % GROUPS.length] : '',
      ].join(','),
    );
  }
  writeFileSync(file, `${rows.join('\n')}\n`);
}

async function request(
  port: number,
  method: string,
  p: string,
  token: string,
  body?: { type: string; file?: string; json?: unknown },
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    let payload: Buffer | undefined;
    if (body?.json !== undefined) payload = Buffer.from(JSON.stringify(body.json));
    if (body) headers['content-type'] = body.type;
    if (payload) headers['content-length'] = String(payload.length);
    if (body?.file) headers['content-length'] = String(statSync(body.file).size);
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    if (body?.file) createReadStream(body.file).pipe(req);
    else req.end(payload);
  });
}

async function main() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'roster-import-bench-'));
  let embedded: EmbeddedDatabase | undefined;
  let child: ReturnType<typeof spawn> | undefined;
  try {
    let uri = process.env.MONGODB_URI;
    if (!uri) {
      embedded = await startEmbeddedDatabase(path.join(tmp, 'db'), () => undefined);
      uri = embedded.uri;
    }
    const mongo = new URL(uri);
    mongo.pathname = `/bench_import_${Date.now()}`;
    const file = path.join(tmp, 'users.csv');
    generate(file, LINES);
    const port = await freePort();
    const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT_DIR, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('npm run build failed');
    // BENCH_CPU_PROF=1: the server writes a V8 CPU profile under ./bench-profiles when it stops.
    const profile = process.env.BENCH_CPU_PROF
      ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT_DIR, 'bench-profiles')}`]
      : [];
    child = spawn(process.execPath, [...profile, path.join(ROOT_DIR, 'dist/main.js')], {
      cwd: ROOT_DIR,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        MONGODB_URI: mongo.href,
        ROSTER_ADMIN_TOKEN: ADMIN,
        ROSTER_SCIM_TOKEN: SCIM,
        ROSTER_VERIFY_TOKEN: `bench-verify-${randomUUID()}`,
        ROSTER_SMTP_URL: 'smtp://127.0.0.1:1',
        LOG_LEVEL: 'warn',
        ROSTER_DATA_DIR: path.join(tmp, 'data'),
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const pid = child.pid!;
    for (let i = 0; ; i++) {
      const up = await request(port, 'GET', '/healthz', ADMIN).then(
        (r) => r.status === 200,
        () => false,
      );
      if (up) break;
      if (i > 300 || child.exitCode !== null) throw new Error('roster did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const displayName of GROUPS) {
      const res = await request(port, 'POST', '/scim/v2/Groups', SCIM, {
        type: 'application/scim+json',
        json: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName },
      });
      if (res.status !== 201) throw new Error(`group ${displayName}: ${res.status} ${res.text}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const baseline = rssMb(pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssMb(pid));
      } catch {
        // the process is gone
      }
    }, 200);
    const size = statSync(file).size;
    console.log(
      `importing ${LINES} lines (${(size / 1024 / 1024).toFixed(1)} MB) into ${embedded?.kind ?? 'MONGODB_URI'}...`,
    );
    const cpu = () => ({ roster: cpuMs(pid), ferretdb: cpuMs(embedded?.pid), machine: machineBusyMs() });
    const cpuBefore = cpu();
    const started = Date.now();
    const res = await request(port, 'POST', '/admin/v1/imports', ADMIN, { type: 'text/csv', file });
    const seconds = (Date.now() - started) / 1000;
    const cpuAfter = cpu();
    clearInterval(sampler);
    const report = JSON.parse(res.text) as Record<string, unknown>;
    console.log(
      JSON.stringify({ status: res.status, ...report, errors: (report.errors as unknown[] | undefined)?.slice(0, 5) }),
    );
    console.log(`lines:            ${LINES}`);
    console.log(`seconds:          ${seconds.toFixed(1)}`);
    console.log(`lines/s:          ${Math.round(LINES / seconds)}`);
    console.log(`baseline RSS MB:  ${baseline.toFixed(1)}`);
    console.log(`peak RSS MB:      ${peak.toFixed(1)}`);
    const perLine = (key: keyof typeof cpuBefore) => {
      const [a, b] = [cpuBefore[key], cpuAfter[key]];
      return a === undefined || b === undefined ? undefined : ((b - a) * 1000) / LINES;
    };
    const [roster, ferretdb, machine] = [perLine('roster'), perLine('ferretdb'), perLine('machine')];
    const us = (v: number | undefined) => (v === undefined ? '?' : v.toFixed(0));
    const rest =
      roster !== undefined && ferretdb !== undefined && machine !== undefined ? machine - roster - ferretdb : undefined;
    console.log(
      `CPU µs per line:  Roster ${us(roster)}, FerretDB ${us(ferretdb)}, PostgreSQL and the rest ${us(rest)}; ` +
        `machine ${machine === undefined ? '?' : ((machine * LINES) / 10_000 / seconds / os.cpus().length).toFixed(0)}% busy`,
    );
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await embedded?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
