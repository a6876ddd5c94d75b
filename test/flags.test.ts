import { describe, expect, it } from 'vitest';
import { intFlag, numberFlag, pairFlag, parseFlags } from '../src/config/index.js';

const specs = {
  src: { type: 'string', help: 'x' },
  'delete-missing': { type: 'boolean', help: 'x' },
  workers: { type: 'string', help: 'x', default: '4' },
} as const;

describe('parseFlags', () => {
  it('accepts --flag=value, --flag value and Go-style booleans', () => {
    const p = parseFlags(['--src=/a', '--delete-missing=true', '--workers', '8'], specs);
    expect(p.values.src).toBe('/a');
    expect(p.values['delete-missing']).toBe(true);
    expect(p.values.workers).toBe('8');
    expect(parseFlags(['--delete-missing=false'], specs).values['delete-missing']).toBe(false);
    expect(parseFlags([], specs).values.workers).toBe('4');
  });
  it.each([
    [['--nope'], /unknown flag --nope/],
    [['--delete-missing=maybe'], /--delete-missing: expected true or false/],
    [['--src'], /--src: expected a value/],
    [['stray'], /unexpected argument 'stray'/],
  ])('rejects %j with one line', (argv, re) => {
    expect(() => parseFlags(argv, specs)).toThrow(re);
  });
  it('validates numbers and names', () => {
    expect(() => intFlag('workers', '0', 1, 256)).toThrow(
      "--workers: expected an integer from 1 to 256, got '0'",
    );
    expect(() => numberFlag('mtime-threshold', 'abc', 0, 86400, 2)).toThrow(
      /--mtime-threshold: expected a number/,
    );
    expect(numberFlag('mtime-threshold', '0.5', 0, 86400, 2)).toBe(0.5);
    expect(() => pairFlag('pair', 'Media')).toThrow(/--pair: expected lowercase/);
    expect(pairFlag('pair', 'media-2')).toBe('media-2');
  });
});
