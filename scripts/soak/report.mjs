// The run's one-line summary, and the details printed when it fails.

export function summaryLine({ ops, faults, versions, lost, dup, seconds }) {
  return `soak: ${ops} ops, ${faults} faults, ${versions} versions tracked, ${lost} lost, ${dup} duplicate audit rows, ${seconds} s`;
}

/** Problems that fail the run: each a short line; empty when the run passed. */
export function problems({ diffs, temps, versions, audit, finalCode }) {
  const out = [];
  if (finalCode !== 0) out.push(`the final reconcile exited ${finalCode}`);
  for (const d of diffs.slice(0, 20)) out.push(`sides differ: ${d}`);
  if (diffs.length > 20) out.push(`... and ${diffs.length - 20} more differences`);
  for (const t of temps.slice(0, 20)) out.push(`temp file left: ${t}`);
  for (const l of versions.lost.slice(0, 20))
    out.push(`lost: content ${l.md5} written by op ${l.op} on side ${l.side} at '${l.path}' (+${l.atMs} ms)`);
  if (versions.lost.length > 20) out.push(`... and ${versions.lost.length - 20} more lost`);
  if (audit.missing) out.push(`${audit.missing} opslog operations missing from the database`);
  if (audit.duplicate) out.push(`${audit.duplicate} duplicate audit rows`);
  if (audit.running) out.push(`${audit.running} iterations left 'running'`);
  for (const n of audit.notes.slice(0, 20)) out.push(`audit: ${n}`);
  return out;
}

export function countsLine(m) {
  return [...m].map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
}
