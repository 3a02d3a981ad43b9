import http from 'node:http';
import autocannon from 'autocannon';

/** A process's CPU time per request (ms), and how busy it was meanwhile (share of one core). */
export interface CpuUse {
  perRequest: number;
  busy: number;
}

/** One scenario's figures: throughput and latency percentiles (milliseconds). */
export interface Figures {
  name: string;
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Answers by HTTP status (autocannon runs only). */
  statuses?: Record<string, number>;
  /** A request hit its time limit: the latencies are lower bounds. */
  timedOut?: boolean;
  note?: string;
  cpu?: { roster?: CpuUse; database?: CpuUse };
  /** Every latency, sorted (sequential runs): lets runs of one scenario be combined. */
  samples?: number[];
}

export const SCIM_TYPE = 'application/scim+json';

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

/** Throughput under concurrency with autocannon (bounded by duration and by request count). */
export async function cannon(
  name: string,
  options: {
    url: string;
    connections: number;
    seconds: number;
    maxRequests?: number;
    headers?: Record<string, string>;
    /** Called for every request: the path (with query) to ask for. */
    path: () => string;
  },
): Promise<Figures> {
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    ...(options.maxRequests ? { maxOverallRequests: options.maxRequests } : {}),
    timeout: 30,
    headers: options.headers,
    requests: [
      {
        method: 'GET',
        setupRequest: (req) => ({ ...req, path: options.path() }),
      },
    ],
  });
  const total = result.requests.total;
  return {
    name,
    requests: total,
    seconds: result.duration,
    rps: total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    statuses: Object.fromEntries(
      Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, (stat as { count: number }).count]),
    ),
  };
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 300)}`);
  }
}

/**
 * Kept-alive connections for `call`. It runs on the same two cores as Roster and its database, so
 * it is plain node:http: fetch (undici) with an AbortSignal per request cost this load generator
 * 4-5 ms of CPU per provisioned user in the mixed scenario, CPU the server then did not have.
 */
const agent = new http.Agent({ keepAlive: true });

/** One JSON request with a time limit; throws HttpError on a status other than `expect`. */
export function call(
  method: string,
  url: string,
  options: { token?: string; body?: unknown; expect?: number[]; timeoutMs?: number } = {},
): Promise<unknown> {
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  const headers: Record<string, string | number> = {};
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (payload) Object.assign(headers, { 'Content-Type': SCIM_TYPE, 'Content-Length': payload.length });
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (!(options.expect ?? [200, 201, 204]).includes(res.statusCode ?? 0))
          return reject(new HttpError(res.statusCode ?? 0, text));
        try {
          resolve(text ? (JSON.parse(text) as unknown) : undefined);
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.setTimeout(options.timeoutMs ?? 60_000, () =>
      req.destroy(Object.assign(new Error('request timed out'), { name: 'TimeoutError' })),
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Runs `request` sequentially (one at a time: latency, not queueing) until `maxRequests` are done
 * or `maxSeconds` have passed (at least one request always runs). A request over `timeoutMs` ends
 * the scenario and is reported as a timeout with its limit as a lower bound.
 */
export async function sequential(
  name: string,
  request: (i: number, timeoutMs: number) => Promise<void>,
  limits: { maxRequests: number; maxSeconds: number; timeoutMs: number; warmup?: number; afterWarmup?: () => void },
): Promise<Figures> {
  for (let i = 0; i < (limits.warmup ?? 0); i++) await request(-1 - i, limits.timeoutMs);
  limits.afterWarmup?.();
  const samples: number[] = [];
  let errors = 0;
  let note: string | undefined;
  let timedOut = false;
  const started = performance.now();
  for (let i = 0; i < limits.maxRequests; i++) {
    if (i > 0 && performance.now() - started > limits.maxSeconds * 1000) break;
    const t0 = performance.now();
    try {
      await request(i, limits.timeoutMs);
      samples.push(performance.now() - t0);
    } catch (err) {
      const isTimeout = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError';
      errors++;
      if (isTimeout) {
        samples.push(limits.timeoutMs);
        timedOut = true;
        note = `timed out at ${limits.timeoutMs / 1000} s (figures are lower bounds)`;
        break;
      }
      note = `error: ${(err as Error).message.slice(0, 160)}`;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    name,
    requests: samples.length,
    seconds,
    rps: samples.length / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    errors,
    timedOut,
    note,
    samples: sorted,
  };
}

/**
 * Sequential runs of one scenario as one set of figures: percentiles over every sample, CPU per
 * request weighted by requests and how busy a process was by time. A scenario measured before and
 * after another one, and compared with it, is then not at the mercy of the machine getting faster
 * or slower in between.
 */
export function combine(name: string, runs: Figures[]): Figures {
  const sorted = runs.flatMap((r) => r.samples ?? []).sort((a, b) => a - b);
  const requests = runs.reduce((n, r) => n + r.requests, 0);
  const seconds = runs.reduce((n, r) => n + r.seconds, 0);
  const cpu = (key: 'roster' | 'database'): CpuUse | undefined => {
    const uses = runs.map((r) => ({ use: r.cpu?.[key], requests: r.requests, seconds: r.seconds }));
    if (uses.some((u) => !u.use)) return undefined;
    return {
      perRequest: uses.reduce((sum, u) => sum + u.use!.perRequest * u.requests, 0) / requests,
      busy: uses.reduce((sum, u) => sum + u.use!.busy * u.seconds, 0) / seconds,
    };
  };
  const notes = runs.map((r) => r.note).filter(Boolean);
  return {
    name,
    requests,
    seconds,
    rps: requests / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    timedOut: runs.some((r) => r.timedOut),
    ...(notes.length ? { note: notes.join('; ') } : {}),
    ...(runs.every((r) => r.cpu) ? { cpu: { roster: cpu('roster'), database: cpu('database') } } : {}),
    samples: sorted,
  };
}

/**
 * A closed-loop workload: `workers` loops each run `task` until `maxTasks` tasks have started in
 * all or `maxSeconds` have passed. Each task's latency is kept; returns figures per task.
 */
export async function closedLoop(
  name: string,
  task: (i: number) => Promise<void>,
  limits: { workers: number; maxTasks: number; maxSeconds: number },
): Promise<Figures & { completed: number }> {
  const samples: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + limits.maxSeconds * 1000;
  const worker = async () => {
    while (next < limits.maxTasks && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      try {
        await task(i);
        samples.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message.slice(0, 200);
      }
    }
  };
  await Promise.all(Array.from({ length: limits.workers }, worker));
  const seconds = (performance.now() - started) / 1000;
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    name,
    requests: samples.length,
    completed: samples.length,
    seconds,
    rps: samples.length / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    errors,
    ...(firstError ? { note: `first error: ${firstError}` } : {}),
  };
}
