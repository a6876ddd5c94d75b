// The dashboard's HTTP server: a fastify instance built from its dependencies and returned without
// listening (tests call app.inject(); the `ui` command listens). It only reads the audit store.
//
// Every answer that is not the page is JSON; every error is `{ "error": code, "message": one line }`:
// 400 invalid_query, 404 not_found, 503 store_unavailable (the store is down or slower than
// storeTimeoutMs), 500 internal. The store's own error text goes to the log, not to the browser.
import {
  fastify,
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { AuditReader } from '../audit/index.js';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import type { PairHealth } from '../health/index.js';
import { createMetrics } from './metrics.js';
import { CONTENT_SECURITY_POLICY, FAVICON_SVG, PAGE_CSS, PAGE_HTML, PAGE_SCRIPT } from './page.js';
import {
  DEFAULT_CONFLICTS_LIMIT,
  DEFAULT_CONFLICT_DAYS,
  DEFAULT_HISTORY_LIMIT,
  DEFAULT_ITERATIONS_LIMIT,
  DEFAULT_OPERATIONS_LIMIT,
  conflictsQuerySchema,
  describeQueryIssue,
  historyQuerySchema,
  oneLine,
  iterationsQuerySchema,
  operationsQuerySchema,
  versionsQuerySchema,
  type ConflictsQueryRaw,
  type HistoryQueryRaw,
  type IterationsQueryRaw,
  type OperationsQueryRaw,
  type ValidationIssue,
  type VersionsQueryRaw,
} from './query.js';
import { historyViews, operationViews, pairViews, type Schedule } from './view.js';

const DAY_MS = 86_400_000;

/** `{ pair }` when the query names one; an empty or absent pair means every pair. */
function pairOf(pair: string | undefined): { pair?: string } {
  return pair !== undefined && pair !== '' ? { pair } : {};
}

export interface UiDeps {
  reader: AuditReader;
  clock: Clock;
  schedule: Schedule;
  /** Server log (pino). Default: silent. */
  log?: Logger;
  /** A store call slower than this answers 503 (milliseconds, measured on `clock`). Default 5000. */
  storeTimeoutMs?: number;
  /** Export Node process metrics on /metrics. Default false (tests build many apps). */
  processMetrics?: boolean;
  /** Live health from heartbeats (`ha-sync ui --live`); absent: /api/health says it is off. */
  health?: { readonly enabled: boolean; health(): PairHealth[] };
}

/** The store failed or did not answer in time; the request gets 503. */
class StoreUnavailable extends Error {
  constructor(cause: unknown) {
    super(`audit store unavailable: ${errorMessage(cause)}`, { cause });
    this.name = 'StoreUnavailable';
  }
}

interface ErrorBody {
  error: string;
  message: string;
}

export function buildApp(deps: UiDeps): FastifyInstance {
  const timeoutMs = deps.storeTimeoutMs ?? 5000;
  const logger: FastifyBaseLogger = deps.log ?? createLogger({ silent: true });
  const app = fastify({
    loggerInstance: logger,
    // Per-request lines every 10 s per open browser are noise; errors are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  });

  /** Runs one store call with a deadline; any failure becomes StoreUnavailable. */
  async function store<T>(call: () => Promise<T>): Promise<T> {
    const ac = new AbortController();
    const deadline = deps.clock.sleep(timeoutMs, ac.signal).then(
      () => {
        throw new Error(`no answer within ${timeoutMs} ms`);
      },
      () => undefined as never,
    );
    try {
      return await Promise.race([call(), deadline]);
    } catch (err) {
      throw new StoreUnavailable(err);
    } finally {
      ac.abort();
    }
  }

  const reader = deps.reader;
  const metrics = createMetrics({
    reader: {
      pairs: () => store(() => reader.pairs()),
      iterations: (q) => store(() => reader.iterations(q)),
      conflicts: (q) => store(() => reader.conflicts(q)),
      versionsState: (pair) => store(() => reader.versionsState(pair)),
    },
    ...(deps.health ? { health: deps.health } : {}),
    schedule: deps.schedule,
    now: () => deps.clock.now(),
    processMetrics: deps.processMetrics ?? false,
    onStoreError: (err) => app.log.warn({ err: errorMessage(err) }, 'metrics: audit store unavailable'),
  });

  app.addHook('onSend', (_req, reply, payload, done) => {
    void reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('referrer-policy', 'no-referrer');
    void reply.header('x-frame-options', 'DENY');
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    done(null, payload);
  });

  app.setErrorHandler((err: Error & { validation?: ValidationIssue[]; statusCode?: number }, req, reply) => {
    if (err.validation) {
      return send(reply, 400, {
        error: 'invalid_query',
        message: describeQueryIssue(err.validation[0], req.query),
      });
    }
    if (err instanceof StoreUnavailable) {
      req.log.warn({ url: routeOf(req), err: err.message }, 'audit store unavailable');
      return send(reply, 503, {
        error: 'store_unavailable',
        message: `the audit store (${reader.kind}) is unreachable or not answering; see the server log`,
      });
    }
    const status = err.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return send(reply, status, { error: 'bad_request', message: oneLine(err.message, 200) });
    }
    req.log.error({ url: routeOf(req), err }, 'internal error');
    return send(reply, 500, { error: 'internal', message: 'internal error; see the server log' });
  });

  app.setNotFoundHandler((req, reply) =>
    send(reply, 404, {
      error: 'not_found',
      message: `no such route: ${req.method} ${oneLine(routeOf(req), 200)}`,
    }),
  );

  // ---- the page ----
  app.get('/', (_req, reply) => staticText(reply, 'text/html; charset=utf-8', PAGE_HTML));
  app.get('/assets/app.js', (_req, reply) =>
    staticText(reply, 'text/javascript; charset=utf-8', PAGE_SCRIPT),
  );
  app.get('/assets/app.css', (_req, reply) => staticText(reply, 'text/css; charset=utf-8', PAGE_CSS));
  app.get('/favicon.svg', (_req, reply) => staticText(reply, 'image/svg+xml', FAVICON_SVG));

  // ---- JSON API ----
  app.get('/api/pairs', async () => {
    const summaries = await store(() => reader.pairs());
    const nowMs = deps.clock.now();
    return {
      generatedAt: new Date(nowMs).toISOString(),
      pairs: pairViews(summaries, deps.schedule, nowMs),
    };
  });

  app.get<{ Querystring: IterationsQueryRaw }>(
    '/api/iterations',
    { schema: { querystring: iterationsQuerySchema } },
    async (req, reply) => {
      const q = req.query;
      const since = q.since === undefined ? undefined : new Date(q.since);
      if (since && Number.isNaN(since.getTime())) {
        // The format admits a leap second (23:59:60Z) that Date cannot represent.
        const issue = { keyword: 'format', instancePath: '/since', params: {} };
        return send(reply, 400, { error: 'invalid_query', message: describeQueryIssue(issue, q) });
      }
      const iterations = await store(() =>
        reader.iterations({
          limit: q.limit === undefined ? DEFAULT_ITERATIONS_LIMIT : Number(q.limit),
          ...pairOf(q.pair),
          ...(since ? { since } : {}),
          ...(q.dry_run !== undefined ? { dryRun: q.dry_run === '1' } : {}),
        }),
      );
      return { generatedAt: new Date(deps.clock.now()).toISOString(), iterations };
    },
  );

  app.get<{ Querystring: OperationsQueryRaw }>(
    '/api/operations',
    { schema: { querystring: operationsQuerySchema } },
    async (req) => {
      const iterationId = Number(req.query.iteration_id);
      const limit = req.query.limit === undefined ? DEFAULT_OPERATIONS_LIMIT : Number(req.query.limit);
      const operations = operationViews(await store(() => reader.operations(iterationId, limit)));
      return { iterationId, operations };
    },
  );

  // ---- kept versions and conflict copies ----
  app.get<{ Querystring: ConflictsQueryRaw }>(
    '/api/conflicts',
    { schema: { querystring: conflictsQuerySchema } },
    async (req) => {
      const q = req.query;
      const days = q.days === undefined ? DEFAULT_CONFLICT_DAYS : Number(q.days);
      const nowMs = deps.clock.now();
      const since = new Date(nowMs - days * DAY_MS);
      const r = await store(() =>
        reader.conflicts({
          since,
          limit: q.limit === undefined ? DEFAULT_CONFLICTS_LIMIT : Number(q.limit),
          ...pairOf(q.pair),
        }),
      );
      return {
        generatedAt: new Date(nowMs).toISOString(),
        days,
        since: since.toISOString(),
        counts: r.counts,
        conflicts: r.rows,
      };
    },
  );

  app.get<{ Querystring: VersionsQueryRaw }>(
    '/api/versions',
    { schema: { querystring: versionsQuerySchema } },
    async (req) => {
      const versions = await store(() => reader.versionsState(pairOf(req.query.pair).pair));
      return { generatedAt: new Date(deps.clock.now()).toISOString(), versions };
    },
  );

  app.get<{ Querystring: HistoryQueryRaw }>(
    '/api/history',
    { schema: { querystring: historyQuerySchema } },
    async (req) => {
      const q = req.query;
      const rows = await store(() =>
        reader.fileHistory({
          path: q.path,
          limit: q.limit === undefined ? DEFAULT_HISTORY_LIMIT : Number(q.limit),
          ...pairOf(q.pair),
        }),
      );
      return {
        generatedAt: new Date(deps.clock.now()).toISOString(),
        path: q.path,
        history: historyViews(rows),
      };
    },
  );

  // Live health from heartbeats: every pair's light and each component's reason in words.
  app.get('/api/health', () => {
    const nowMs = deps.clock.now();
    return {
      generatedAt: new Date(nowMs).toISOString(),
      enabled: deps.health?.enabled ?? false,
      pairs: (deps.health?.health() ?? []).map((p) => ({
        pair: p.pair,
        light: p.light,
        components: p.components.map((c) => ({
          component: c.component,
          side: c.side,
          light: c.light,
          reason: c.reason,
          silentSeconds: Math.round(c.silentMs / 1000),
          lastAt: c.beat ? new Date(c.beat.at).toISOString() : null,
        })),
      })),
    };
  });

  // ---- probes and metrics ----
  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async () => {
    await store(() => reader.ping());
    return { status: 'ready', store: reader.kind };
  });
  app.get('/metrics', async (_req, reply) => {
    const text = await metrics.render();
    return reply.type(metrics.registry.contentType).send(text);
  });

  return app;
}

function send(reply: FastifyReply, status: number, body: ErrorBody): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

function staticText(reply: FastifyReply, type: string, text: string): FastifyReply {
  return reply.type(type).header('cache-control', 'no-cache').send(text);
}

/** The request path without its query string (queries may be long or hostile). */
function routeOf(req: FastifyRequest): string {
  const url = req.url;
  const i = url.indexOf('?');
  return i < 0 ? url : url.slice(0, i);
}
