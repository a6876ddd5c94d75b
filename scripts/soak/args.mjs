// The soak's command line: `npm run soak -- [--seed N] [--minutes M] [--files F] [--netfs] ...`.
// Parsed once and frozen; a bad flag is one line naming the flag and what it accepts, exit 2
// (the project's convention for every entry point).

export const USAGE =
  'usage: npm run soak -- [--seed N] [--minutes M] [--files F] [--netfs] [--faults kill,nats,mariadb,netfs,diskfull] [--keep] [--verbose]';

export const FAULT_KINDS = Object.freeze(['kill', 'nats', 'mariadb', 'netfs', 'diskfull']);

const DEFAULTS = Object.freeze({
  seed: null,
  minutes: 1,
  files: 200,
  netfs: false,
  faults: FAULT_KINDS,
  keep: false,
  verbose: false,
});

export class UsageError extends Error {}

/**
 * `--faults` limits the faults to the kinds listed (`none`: no faults); the rest of the schedule
 * keeps its times, so a seed's failure can be narrowed down to one kind of fault.
 * `--minutes` is the whole run's wall-clock budget (start-up, workload with faults, settling, the
 * final reconcile and the oracle); the workload gets what the fixed phases leave, at least 10 s.
 * `--files` is the number of files each side starts with. Without `--seed` a random seed is drawn
 * (and printed, so a failing run can be repeated).
 */
export function parseArgs(argv) {
  const out = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    const eq = raw.indexOf('=');
    const name = eq > 0 ? raw.slice(0, eq) : raw;
    const inline = eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = () => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${name}: missing value`);
      return v;
    };
    switch (name) {
      case '--seed':
        out.seed = intArg(name, value(), 0, 2 ** 32 - 1);
        break;
      case '--minutes': {
        const v = Number(value());
        if (!Number.isFinite(v) || v < 0.5 || v > 24 * 60)
          throw new UsageError('--minutes: expected a number of minutes from 0.5 to 1440');
        out.minutes = v;
        break;
      }
      case '--files':
        out.files = intArg(name, value(), 0, 100_000);
        break;
      case '--faults': {
        const kinds = value()
          .split(',')
          .filter((k) => k !== '');
        const bad = kinds.find((k) => !FAULT_KINDS.includes(k) && k !== 'none');
        if (bad !== undefined)
          throw new UsageError(
            `--faults: expected a comma-separated list of ${FAULT_KINDS.join(', ')} (or none), got '${bad}'`,
          );
        out.faults = Object.freeze(kinds.filter((k) => k !== 'none'));
        break;
      }
      case '--netfs':
      case '--keep':
      case '--verbose':
        if (inline !== undefined) throw new UsageError(`${name}: takes no value`);
        out[name.slice(2)] = true;
        break;
      case '--help':
      case '-h':
        out.help = true;
        break;
      default:
        throw new UsageError(`unknown flag '${raw}'; ${USAGE}`);
    }
  }
  if (out.seed === null) out.seed = Math.floor(Math.random() * 2 ** 31);
  return Object.freeze(out);
}

function intArg(name, v, min, max) {
  const n = Number(v);
  if (!/^\d+$/.test(String(v)) || !Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`${name}: expected an integer from ${min} to ${max}, got '${v}'`);
  return n;
}

/** The command that repeats a run (printed when it fails). */
export function rerunCommand(a) {
  const faults = a.faults.length === FAULT_KINDS.length ? '' : ` --faults ${a.faults.join(',') || 'none'}`;
  return `npm run soak -- --seed ${a.seed} --minutes ${a.minutes} --files ${a.files}${a.netfs ? ' --netfs' : ''}${faults}`;
}
