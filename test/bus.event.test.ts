// The event schema gate: every hostile shape is one clear line, never an event.
import { describe, expect, it } from 'vitest';
import {
  ObservationIds,
  checkRelPath,
  encodeEvent,
  msgId,
  parseEvent,
  type ChangeEvent,
} from '../src/bus/index.js';

const good: ChangeEvent = {
  v: 1,
  pair: 'media',
  side: 'dell',
  type: 'upsert',
  kind: 'file',
  path: 'photos/2024/a b.jpg',
  size: 10,
  mtimeMs: 1_700_000_000_123.5,
  prev: { size: 4, mtimeMs: 1_600_000_000_000 },
  observedAt: 1_700_000_001_000,
};

const json = (o: unknown): string => JSON.stringify(o);

describe('parseEvent', () => {
  it('accepts a good event and round-trips it through encodeEvent', () => {
    expect(parseEvent(encodeEvent(good))).toEqual(good);
    const { prev: _prev, ...noPrev } = good;
    expect(parseEvent(json(noPrev))).toEqual(noPrev);
    expect(parseEvent(json({ ...good, type: 'delete', kind: 'dir', size: 0 }))).toMatchObject({
      kind: 'dir',
    });
  });

  it.each([
    ['not JSON', 'hello', 'event is not JSON'],
    ['an array', '[1]', 'event is not a JSON object'],
    ['null', 'null', 'event is not a JSON object'],
    ['wrong version', json({ ...good, v: 2 }), 'unsupported event version 2 (expected 1)'],
    ['missing version', json({ ...good, v: undefined }), 'unsupported event version undefined (expected 1)'],
    ['version as string', json({ ...good, v: '1' }), 'unsupported event version "1" (expected 1)'],
    ['unknown field', json({ ...good, extra: 1 }), "unknown field 'extra'"],
    ['bad pair', json({ ...good, pair: 'Media' }), 'pair is not a valid pair name'],
    ['pair with a dot', json({ ...good, pair: 'a.b' }), 'pair is not a valid pair name'],
    ['bad side', json({ ...good, side: 'dell>' }), 'side is not a valid side label'],
    ['bad type', json({ ...good, type: 'rename' }), "type must be 'upsert' or 'delete'"],
    ['bad kind', json({ ...good, kind: 'fifo' }), "kind must be 'file', 'dir' or 'symlink'"],
    ['.. escape', json({ ...good, path: '../../x' }), "path contains a '..' segment"],
    ['.. inside', json({ ...good, path: 'a/../../x' }), "path contains a '..' segment"],
    ['absolute', json({ ...good, path: '/etc/passwd' }), 'path is absolute'],
    ['NUL', json({ ...good, path: 'a\u0000b' }), 'path contains NUL'],
    ['backslash', json({ ...good, path: '..\\..\\x' }), 'path contains a backslash'],
    ['drive path', json({ ...good, path: 'C:x' }), 'path looks like a drive path'],
    ['empty path', json({ ...good, path: '' }), 'path is empty'],
    ['path not a string', json({ ...good, path: 5 }), 'path must be a string'],
    ['double slash', json({ ...good, path: 'a//b' }), "path has an empty segment ('//' or a trailing '/')"],
    ['trailing slash', json({ ...good, path: 'a/' }), "path has an empty segment ('//' or a trailing '/')"],
    ['dot segment', json({ ...good, path: './a' }), "path contains a '.' segment"],
    ['control char', json({ ...good, path: 'a\nb' }), 'path contains a control character'],
    ['negative size', json({ ...good, size: -1 }), 'size must be a non-negative integer'],
    ['fractional size', json({ ...good, size: 1.5 }), 'size must be a non-negative integer'],
    ['string size', json({ ...good, size: '1' }), 'size must be a non-negative integer'],
    ['negative mtime', json({ ...good, mtimeMs: -5 }), 'mtimeMs must be a finite non-negative number'],
    [
      'infinite mtime',
      '{"v":1,"pair":"media","side":"dell","type":"upsert","kind":"file","path":"a","size":1,"mtimeMs":1e999,"observedAt":1}',
      'mtimeMs must be a finite non-negative number',
    ],
    [
      'missing observedAt',
      json({ ...good, observedAt: undefined }),
      'observedAt must be a finite non-negative number',
    ],
    ['prev not an object', json({ ...good, prev: 3 }), 'prev must be an object'],
    [
      'prev bad size',
      json({ ...good, prev: { size: -1, mtimeMs: 1 } }),
      'prev.size must be a non-negative integer',
    ],
    ['prev extra field', json({ ...good, prev: { size: 1, mtimeMs: 1, x: 1 } }), "unknown field 'prev.x'"],
    ['too big', json({ ...good, path: 'a'.repeat(20_000) }), expect.stringContaining('bytes, more than')],
  ])('rejects %s', (_name, input, why) => {
    expect(parseEvent(input)).toEqual(why);
  });

  it('returns a frozen event holding only known fields', () => {
    const ev = parseEvent(json(good));
    expect(Object.isFrozen(ev)).toBe(true);
  });
});

describe('checkRelPath', () => {
  it('accepts ordinary relative paths, including dots inside names and unicode', () => {
    for (const p of ['a', 'a/b/c.txt', '.hidden', 'a/..b', 'x../y', 'ünï/çødé', 'a b/c d']) {
      expect(checkRelPath(p)).toBeNull();
    }
  });
});

describe('msgId', () => {
  it('depends on the change, not on when it was observed', () => {
    const id = msgId(good);
    expect(msgId({ ...good })).toBe(id);
    expect(msgId({ ...good, observedAt: 1 } as ChangeEvent)).toBe(id);
    expect(msgId({ ...good, size: 11 })).not.toBe(id);
    expect(msgId({ ...good, mtimeMs: good.mtimeMs + 1 })).not.toBe(id);
    expect(msgId({ ...good, type: 'delete' })).not.toBe(id);
    expect(msgId({ ...good, side: 'hp' })).not.toBe(id);
    expect(msgId({ ...good, path: 'photos/2024/a b.jpeg' })).not.toBe(id);
    expect(id).toMatch(/^media\.dell\.[A-Za-z0-9_-]{32}$/);
  });

  it('with an observation id, it is that id: two observations of the very same state never share one', () => {
    const ids = new ObservationIds();
    const first = { ...good, obs: ids.next() };
    const again = { ...good, obs: ids.next() }; // a rename back: the same path, size and mtime
    expect(msgId(first)).not.toBe(msgId(again));
    expect(msgId({ ...first })).toBe(msgId(first)); // a republish of one observation keeps its id
    expect(msgId(first)).not.toBe(msgId({ ...first, obs: new ObservationIds().next() }));
  });

  it('obs is validated and round-trips', () => {
    const ev = { ...good, obs: 'a1b2c3d4e5f6.17' };
    expect(parseEvent(encodeEvent(ev))).toEqual(ev);
    for (const bad of ['', 'x.1', 'a1b2c3d4e5f6', 'a1b2c3d4e5f6.-1', 7]) {
      expect(parseEvent(JSON.stringify({ ...good, obs: bad }))).toMatch(/^obs must be/);
    }
  });
});
