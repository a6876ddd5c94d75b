// Public surface of the audit module. Placeholder implementation until issue 3 lands: a no-op
// audit so the reconciler can run. Issue 3 replaces openAudit / openAuditReader.
import type { Logger } from '../log.js';
import type { Audit, AuditReader, IterationHeader, RunRecorder } from './types.js';

export type * from './types.js';

export interface AuditOptions {
  /** MySQL DSN; undefined selects the embedded SQLite file in logDir. */
  dsn: string | undefined;
  logDir: string;
  log: Logger;
}

// eslint-disable-next-line @typescript-eslint/require-await
export async function openAudit(_opts: AuditOptions): Promise<Audit> {
  return {
    kind: 'none',
    flushPending: () => Promise.resolve({ flushed: 0, waiting: 0, corrupt: 0 }),
    beginRun: (h: IterationHeader): Promise<RunRecorder> =>
      Promise.resolve({
        runId: h.runId,
        record: () => Promise.resolve(),
        finish: () => Promise.resolve({ iterationId: null, flushed: false }),
      }),
    lastDryRun: () => Promise.resolve(null),
    cleanOldOpslogs: () => Promise.resolve(0),
    close: () => Promise.resolve(),
  };
}

// eslint-disable-next-line @typescript-eslint/require-await
export async function openAuditReader(_opts: AuditOptions): Promise<AuditReader> {
  throw new Error('audit reader not implemented yet');
}
