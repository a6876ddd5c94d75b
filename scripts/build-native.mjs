// Builds the optional fastscan addon (native/fastscan.c, native/fastcopy.c and native/fileops.c ->
// native/build/Release/fastscan.node) with node-gyp, as part of `npm ci` (the prepare script) and
// the image build. Optional: where it cannot be built (no C compiler), ha-sync lists and copies
// local trees through node:fs instead, more slowly, with writes made through /proc/self/fd (see
// docs/operations.md, "Writes and symlinked parents"), and this prints one line saying so and
// exits 0.
// Set HA_SYNC_FASTSCAN_REQUIRED=1 to make a failed build an error (CI and the image do).
//
// node-gyp is the one npm bundles (npm points npm_config_node_gyp at it for scripts). Headers
// come from the running Node's own install (<prefix>/include/node) when present, so nothing is
// downloaded.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const required = process.env.HA_SYNC_FASTSCAN_REQUIRED === '1';

function fail(why) {
  const line = `ha-sync: fastscan addon not built (${why}); local trees will be listed and copied through node:fs, more slowly`;
  if (required) {
    process.stderr.write(`${line}. HA_SYNC_FASTSCAN_REQUIRED=1: failing.\n`);
    process.exit(1);
  }
  process.stderr.write(`${line}\n`);
  process.exit(0);
}

function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally
  }
  // npm's bundled copy, next to the node binary (…/bin/node -> …/lib/node_modules/npm/…).
  candidates.push(
    join(
      dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  );
  return candidates.find((c) => c && existsSync(c));
}

const gyp = findNodeGyp();
if (!gyp) fail('node-gyp not found');

const args = [gyp, 'rebuild'];
if (!process.env.npm_config_nodedir) {
  // The running Node's headers, e.g. /usr/include/node from Debian's nodejs package.
  const prefix = resolve(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
}
const r = spawnSync(process.execPath, args, { cwd: join(root, 'native'), encoding: 'utf8' });
if (r.status !== 0) {
  // The first line that says why: a compiler's error, or node-gyp's own ("Could not find any Python").
  const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n');
  const why =
    out.find((l) => /\berror:/i.test(l) && !l.startsWith('gyp ')) ??
    out.find((l) => l.startsWith('gyp ERR! stack Error:')) ??
    out.find((l) => /not found|error/i.test(l));
  fail(
    (why ?? `node-gyp exited ${r.status ?? r.signal}`).replace(/^gyp ERR! (stack )?(Error: )?/, '').trim(),
  );
}
if (!existsSync(join(root, 'native', 'build', 'Release', 'fastscan.node')))
  fail('no native/build/Release/fastscan.node after node-gyp');
