// The live applier's audit windows: one iteration per direction and window, and its status.
import { describe, expect, it } from 'vitest';
import { AuditWindows } from '../src/applier/windows.js';
import type { OpRecord } from '../src/audit/index.js';
import { ManualClock } from '../src/clock.js';
import { createLogger } from '../src/log.js';
import { memoryAudit } from './reconcile.helpers.js';

const op = (operation: OpRecord['operation'], status: OpRecord['status']): OpRecord => ({
  operation,
  filepath: `${operation}.txt`,
  sizeBefore: null,
  sizeAfter: 3,
  md5Before: null,
  md5After: null,
  startedAtMs: 0,
  endedAtMs: 0,
  status,
  errorMessage: status === 'fail' ? 'EIO' : null,
  ...(operation === 'move' ? { movedFrom: 'old.txt', bytesNotCopied: 3 } : {}),
});

describe('an audit window', () => {
  it('that made only moves and had one failure is a partial failure, not a failed one', async () => {
    const audit = memoryAudit();
    const w = new AuditWindows(audit, 'p', 60_000, new ManualClock(0), createLogger({ silent: true }));
    const a = { label: 'dell', root: '/a' };
    const b = { label: 'hp', root: '/b' };
    await w.record(a, b, op('move', 'success'));
    await w.record(a, b, op('update', 'fail'));
    await w.tick(true);
    expect(audit.runs[0]!.end?.status).toBe('partial_failure');
    expect(audit.runs[0]!.end?.counts).toMatchObject({ moved: 1, failed: 1 });
  });
});
