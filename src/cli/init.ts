// `ha-sync init --root DIR --pair P --side L`: marks a folder as side L of pair P (writes its
// `.ha-sync/root.json`). A pair's first sync marks its roots by itself; this is for a folder that
// must be marked by hand: a replacement disk, a restored share, a side added to a pair that synced
// before. A folder already marked for another pair or side is left alone unless --force.
import { flagHelp, labelFlag, pairFlag, parseFlags, dirFlag, type FlagSpecs } from '../config/index.js';
import { EXIT, isHaSyncError } from '../errors.js';
import { MARKER_REL, createMarker, markerMismatch, readMarker } from '../fsops/index.js';
import type { CliContext } from './context.js';

const specs = {
  root: { type: 'string', valueName: 'dir', help: 'The folder to mark (required); it must exist' },
  pair: { type: 'string', valueName: 'name', help: 'The pair it belongs to (required)' },
  side: { type: 'string', valueName: 'label', help: 'Its side label within the pair, e.g. dell (required)' },
  force: {
    type: 'boolean',
    help: 'Replace a marker naming another pair or side (the folder gets a new root id)',
  },
  help: { type: 'boolean', short: 'h', help: 'Show this help' },
} as const satisfies FlagSpecs;

export interface InitConfig {
  readonly help: boolean;
  readonly root: string;
  readonly pair: string;
  readonly side: string;
  readonly force: boolean;
}

/** Validates flags (the root must be a directory). */
export function parseInitArgs(argv: string[], env: NodeJS.ProcessEnv): InitConfig {
  const { values: v } = parseFlags(argv, specs, { env });
  if (v.help) return Object.freeze({ help: true, root: '', pair: '', side: '', force: false });
  const pair = pairFlag('pair', v.pair);
  const side = labelFlag('side', v.side);
  return Object.freeze({
    help: false,
    root: dirFlag('root', v.root, 'root'),
    pair,
    side,
    force: v.force === true,
  });
}

export async function initCommand(argv: string[], ctx: CliContext): Promise<number> {
  const cfg = parseInitArgs(argv, ctx.env);
  if (cfg.help) {
    ctx.stdout.write(
      'Usage: ha-sync init --root <dir> --pair <name> --side <label> [--force]\n\n' +
        `Marks a folder as one side of a pair (writes <dir>/${MARKER_REL}). ha-sync syncs a root only\n` +
        'while it holds its marker: a share that is not mounted leaves a bare mount point without\n' +
        "one. A pair's first sync marks its roots by itself; use this for a replacement disk or a\n" +
        'side added to a pair that synced before.\n\n' +
        flagHelp(specs) +
        '\n',
    );
    return EXIT.OK;
  }
  const now = await readMarker(cfg.root);
  if (now.ok) {
    const bad = markerMismatch(cfg.root, now.marker, cfg.pair, cfg.side);
    if (!bad && now.marker.side !== undefined) {
      ctx.stdout.write(
        `'${cfg.root}' is already side '${cfg.side}' of pair '${cfg.pair}' (root id ${now.marker.rootId})\n`,
      );
      return EXIT.OK;
    }
    if (bad && !cfg.force) {
      ctx.stderr.write(
        `ha-sync init: ${bad.why}; pass --force to mark it for '${cfg.pair}' / '${cfg.side}' instead\n`,
      );
      return EXIT.FAILED;
    }
  } else if (now.trouble !== 'no-marker' && !cfg.force) {
    ctx.stderr.write(`ha-sync init: ${now.why}; pass --force to write a new marker\n`);
    return EXIT.FAILED;
  }
  try {
    // A marker of this pair that only lacks its side keeps its root id (watchers know it by that).
    const keepId = now.ok && now.marker.pair === cfg.pair ? { rootId: now.marker.rootId } : {};
    const m = await createMarker(cfg.root, {
      pair: cfg.pair,
      side: cfg.side,
      replace: now.ok || cfg.force,
      ...keepId,
    });
    ctx.stdout.write(
      `marked '${cfg.root}' as side '${cfg.side}' of pair '${cfg.pair}' (root id ${m.rootId}, ${MARKER_REL})\n`,
    );
    return EXIT.OK;
  } catch (err) {
    if (isHaSyncError(err, 'CHANGED_UNDER_US')) {
      ctx.stderr.write(
        `ha-sync init: another process marked '${cfg.root}' meanwhile; run init again to see it\n`,
      );
      return EXIT.FAILED;
    }
    throw err;
  }
}
