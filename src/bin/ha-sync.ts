#!/usr/bin/env node
// Process entry for `ha-sync`. Exits explicitly so a stray handle can never keep a CronJob pod alive.
//
// libuv's thread pool (4 threads by default) is sized once, at the first asynchronous fs call. A
// network filesystem wants many metadata calls in flight (one round trip each), so it is raised
// here, before anything else is loaded (imports are dynamic for that reason).
if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = '64';

const { main, processContext } = await import('../cli/main.js');
const code = await main(process.argv.slice(2), processContext());
process.exit(code);
