// Durations on the command line: `500ms`, `30s`, `20m`, `24h`, `7d`, or plain milliseconds.

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds in `text`; throws a message naming `what` when it is not a duration. */
export function parseDuration(text, what) {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(String(text).trim());
  if (!m) throw new Error(`${what}: ${JSON.stringify(text)} is not a duration such as 500ms, 30s, 20m or 24h`);
  return Number(m[1]) * UNITS[m[2] ?? 'ms'];
}
