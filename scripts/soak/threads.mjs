// Imported first by main.mjs: a cut network mount can hang filesystem calls, each holding one of
// libuv's threads until it returns; with the default 4 a single cut would stall the whole harness.
// The pool is created at the first asynchronous fs call, so setting this here still takes effect.
import process from 'node:process';
process.env.UV_THREADPOOL_SIZE ??= '64';
