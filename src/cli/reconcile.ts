// Placeholder until issue 2 lands.
import { HaSyncError } from '../errors.js';
import type { CliContext } from './context.js';

// eslint-disable-next-line @typescript-eslint/require-await
export async function reconcileCommand(_argv: string[], _ctx: CliContext): Promise<number> {
  throw new HaSyncError('INTERNAL', 'reconcile is not implemented yet');
}
