// The `ha-sync` entry point: dispatches to a command. Bare `ha-sync [flags]` is `ha-sync reconcile`
// (the seed's CronJob args start with a flag). Usage errors print one line and exit 2; nothing
// else is touched. Commands load lazily so `ha-sync --help` does not load MySQL or NATS clients.
import { EXIT, HaSyncError, errorMessage, isHaSyncError } from '../errors.js';
import type { CliContext, Command } from './context.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  reconcile: {
    summary:
      'Reconcile both trees once against the baseline (the CronJob; one-way or two-way); the default command',
    load: async () => (await import('./reconcile.js')).reconcileCommand,
  },
  watch: {
    summary: 'Poll a root and publish its changes to NATS JetStream',
    load: async () => (await import('./watch.js')).watchCommand,
  },
  apply: {
    summary: "Consume a pair's change events and make both sides equal (holds the Lease)",
    load: async () => (await import('./apply.js')).applyCommand,
  },
  run: {
    summary: 'Live two-way sync of two folders in one process (no NATS, no cluster)',
    load: async () => (await import('./run.js')).runCommand,
  },
  tap: {
    summary: 'Print change events as they flow through NATS (debugging)',
    load: async () => (await import('./tap.js')).tapCommand,
  },
  ui: {
    summary: 'Serve the dashboard (same as ha-sync-ui)',
    load: async () => (await import('./ui.js')).uiCommand,
  },
  prune: {
    summary: 'Delete audit rows older than N days',
    load: async () => (await import('./prune.js')).pruneCommand,
  },
  versions: {
    summary: 'List the files ha-sync kept when it replaced or deleted them, with restore commands',
    load: async () => (await import('./versions.js')).versionsCommand,
  },
  restore: {
    summary: 'Put a kept version back at its path (the latest by default)',
    load: async () => (await import('./versions.js')).restoreCommand,
  },
  init: {
    summary:
      "Mark a folder as one side of a pair (its .ha-sync/root.json; a pair's first sync does it by itself)",
    load: async () => (await import('./init.js')).initCommand,
  },
};

export function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length)) + 4;
  return [
    'ha-sync: keeps two copies of the same folders in two-way sync, and never loses a file.',
    '',
    'Usage: ha-sync [reconcile] --src <dir> --dest <dir> --pair <name> [flags]',
    '       ha-sync <command> [flags]      (ha-sync <command> --help for its flags)',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(width)}${c.summary}`),
    '',
    'Exit codes: 0 success, 1 failed (the run aborted), 2 usage error, 3 partial failure (some files failed).',
  ].join('\n');
}

export async function main(argv: string[], ctx: CliContext): Promise<number> {
  const first = argv[0];
  let name = 'reconcile';
  let rest = argv;
  if (first !== undefined && !first.startsWith('-')) {
    if (!(first in COMMANDS)) {
      ctx.stderr.write(
        `ha-sync: unknown command '${first}'; commands: ${Object.keys(COMMANDS).join(', ')}\n`,
      );
      return EXIT.USAGE;
    }
    name = first;
    rest = argv.slice(1);
  } else if (first === undefined || ((first === '--help' || first === '-h') && argv.length === 1)) {
    ctx.stdout.write(topHelp() + '\n\n');
    if (first === undefined) return EXIT.USAGE;
  }
  try {
    const command = await COMMANDS[name]!.load();
    return await command(rest, ctx);
  } catch (err) {
    if (isHaSyncError(err, 'USAGE')) {
      ctx.stderr.write(`ha-sync ${name}: ${err.message}\n`);
      return EXIT.USAGE;
    }
    ctx.stderr.write(`ha-sync ${name}: ${errorMessage(err)}\n`);
    if (ctx.env.HA_SYNC_DEBUG && err instanceof Error) ctx.stderr.write(`${err.stack ?? ''}\n`);
    return EXIT.FAILED;
  }
}

/** Wires process signals to an AbortSignal; a second signal exits at once. */
export function processContext(): CliContext {
  const ac = new AbortController();
  let count = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    count++;
    if (count > 1) process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    ac.abort(new HaSyncError('TERMINATED', `terminated by ${sig}`));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: ac.signal };
}
