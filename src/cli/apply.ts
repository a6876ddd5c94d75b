// Placeholder until issue 5 lands.
import { HaSyncError } from '../errors.js';
import type { CliContext } from './context.js';

// eslint-disable-next-line @typescript-eslint/require-await
export async function applyCommand(_argv: string[], _ctx: CliContext): Promise<number> {
  throw new HaSyncError('INTERNAL', 'apply is not implemented yet');
}
