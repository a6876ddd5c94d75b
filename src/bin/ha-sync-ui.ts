#!/usr/bin/env node
// Process entry for `ha-sync-ui` (same as `ha-sync ui`).
import { main, processContext } from '../cli/main.js';

const code = await main(['ui', ...process.argv.slice(2)], processContext());
process.exit(code);
