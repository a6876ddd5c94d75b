// Placeholder until issue 3 lands.
import { HaSyncError } from '../errors.js';
import type { CliContext } from './context.js';

// eslint-disable-next-line @typescript-eslint/require-await
export async function pruneCommand(_argv: string[], _ctx: CliContext): Promise<number> {
  throw new HaSyncError('INTERNAL', 'prune is not implemented yet');
}
