#!/usr/bin/env node
// Process entry for `ha-sync`. Exits explicitly so a stray handle can never keep a CronJob pod alive.
import { main, processContext } from '../cli/main.js';

const code = await main(process.argv.slice(2), processContext());
process.exit(code);
