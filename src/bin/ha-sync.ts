#!/usr/bin/env node
// Process entry for `ha-sync`. Exits explicitly so a stray handle can never keep a CronJob pod alive.
//
// libuv's thread pool (4 threads by default) is sized once, when it first starts, from
// UV_THREADPOOL_SIZE. A network filesystem wants many metadata calls in flight (one round trip
// each), so ha-sync wants 256 (measured: a cold 3k-file sshfs sweep of two trees takes 5.7 s
// with 64 threads, 2.9 s with 256). The ESM loader starts the pool before this module's first line runs,
// so setting the variable here is too late: where Node has process.execve (Node >= 23.11, the
// production image), the process re-executes itself in place (same pid, same signals) with it
// set; elsewhere set UV_THREADPOOL_SIZE=256 in the environment (the image should).
const execve = (
  process as unknown as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }
).execve;
if (!process.env.UV_THREADPOOL_SIZE && typeof execve === 'function') {
  try {
    execve.call(
      process,
      process.execPath,
      [process.execPath, ...process.execArgv, ...process.argv.slice(1)],
      {
        ...process.env,
        UV_THREADPOOL_SIZE: '256',
      },
    );
  } catch {
    // Not fatal: the run works with the default pool, only slower on a network filesystem.
  }
}

const { main, processContext } = await import('../cli/main.js');
const code = await main(process.argv.slice(2), processContext());
process.exit(code);
