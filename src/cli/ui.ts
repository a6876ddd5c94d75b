// Placeholder until issue 6 lands.
import { HaSyncError } from '../errors.js';
import type { CliContext } from './context.js';

// eslint-disable-next-line @typescript-eslint/require-await
export async function uiCommand(_argv: string[], _ctx: CliContext): Promise<number> {
  throw new HaSyncError('INTERNAL', 'ui is not implemented yet');
}
