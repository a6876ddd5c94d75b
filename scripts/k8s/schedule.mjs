// How long a cron schedule can leave between two runs, for the staleness alert: a pair is stale
// when it had no successful real sync for twice that long. Only the minute and hour fields may
// vary (every schedule a sync pair uses); a schedule whose day fields are not `*` has no single
// interval, and the caller reports it.

/**
 * The values one cron field selects, or null when it uses anything but numbers, `*`, ranges,
 * lists and steps (`*`, `*\/15`, `7,22,37,52`, `0-30/10`, `5/20`).
 * @param {string} field
 * @param {number} min
 * @param {number} max
 * @returns {number[] | null}
 */
export function cronFieldValues(field, min, max) {
  const out = new Set();
  for (const item of field.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
    if (!m) return null;
    const step = m[4] === undefined ? 1 : Number(m[4]);
    let from = min;
    let to = max;
    if (m[1] !== '*') {
      from = Number(m[2]);
      // `a/n` runs from a to the field's end, as in Vixie cron; a bare `a` is just a.
      to = m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? max : from;
    }
    if (step < 1 || from < min || to > max || from > to) return null;
    for (let v = from; v <= to; v += step) out.add(v);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * The longest gap, in minutes, between two consecutive runs of a 5-field cron schedule over a
 * day (wrapping at midnight), or null when the schedule's day-of-month, month or day-of-week is not
 * `*` or a field is not understood. `*\/15 * * * *` and `7,22,37,52 * * * *` give 15.
 * @param {string} schedule
 * @returns {number | null}
 */
export function cronLongestGapMinutes(schedule) {
  const fields = String(schedule).trim().split(/\s+/);
  if (fields.length !== 5 || fields.slice(2).some((f) => f !== '*')) return null;
  const minutes = cronFieldValues(fields[0], 0, 59);
  const hours = cronFieldValues(fields[1], 0, 23);
  if (!minutes?.length || !hours?.length) return null;
  const runs = hours.flatMap((h) => minutes.map((m) => h * 60 + m));
  let longest = runs[0] + 24 * 60 - runs[runs.length - 1];
  for (let i = 1; i < runs.length; i++) longest = Math.max(longest, runs[i] - runs[i - 1]);
  return longest;
}

/**
 * The longest gap, in minutes, of the schedule each direction of a pair runs on (null where that
 * schedule has none). A one-way pair's `a-to-b` job runs on server a's schedule; a two-way pair's
 * one job on the primary's, for both directions. The audit names the directions the same way in
 * both modes.
 * @returns {{direction: string, minutes: number | null}[]}
 */
export function directionGaps(cfg, pair) {
  const gap = (server) => cronLongestGapMinutes(cfg.servers.find((s) => s.name === server).schedule);
  const [a, b] = [cfg.primary, cfg.secondary];
  const from = pair.mode === 'two-way' ? [a, a] : [a, b];
  return [
    { direction: `${a}-to-${b}`, minutes: gap(from[0]) },
    { direction: `${b}-to-${a}`, minutes: gap(from[1]) },
  ];
}
