// Numbers as the operations view shows them: short, with their unit, and a dash where there is no value (a fresh
// service has no quantile yet: "–", never "NaN" or "null").

export const NONE = '–';

function finite(value) {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Significant digits that suit the size: 0.0123, 0.25, 3.4, 12, 1,234. */
export function number(value) {
  if (!finite(value)) return NONE;
  const size = Math.abs(value);
  if (size === 0) return '0';
  if (size >= 100) return Math.round(value).toLocaleString('en-US');
  if (size >= 10) return String(Number(value.toFixed(1)));
  if (size >= 0.1) return String(Number(value.toFixed(2)));
  return String(Number(value.toPrecision(2)));
}

/** A whole count (runs, tasks, workers). */
export function count(value) {
  return finite(value) ? Math.round(value).toLocaleString('en-US') : NONE;
}

/** Events per second. */
export function rate(value) {
  return finite(value) ? `${number(value)}/s` : NONE;
}

/** Milliseconds as a number and its unit, switching to seconds and minutes past them: [85, 'ms'], [1.2, 's']. */
export function msParts(value) {
  if (!finite(value)) return [NONE, ''];
  if (Math.abs(value) < 1000) return [number(value), 'ms'];
  if (Math.abs(value) < 60_000) return [number(value / 1000), 's'];
  return [number(value / 60_000), 'min'];
}

/** Milliseconds with their unit: 85 ms, 1.2 s, 2.5 min. */
export function ms(value) {
  const [shown, unit] = msParts(value);
  return unit ? `${shown} ${unit}` : shown;
}

/** An age in seconds: 0.4 s, 12 s, 3 min. */
export function seconds(value) {
  if (!finite(value)) return NONE;
  if (Math.abs(value) < 60) return `${Math.abs(value) < 10 ? value.toFixed(1) : Math.round(value)} s`;
  return `${number(value / 60)} min`;
}

/** An axis label: few characters (1.5k, 2M), since it sits in a margin of a small chart. */
export function compact(value) {
  if (!finite(value)) return NONE;
  const size = Math.abs(value);
  if (size >= 1e6) return `${number(value / 1e6)}M`;
  if (size >= 1e3) return `${number(value / 1e3)}k`;
  return number(value);
}

/** An axis label for milliseconds: 250ms, 1.5s, 2min. */
export function compactMs(value) {
  if (!finite(value)) return NONE;
  const size = Math.abs(value);
  if (size === 0) return '0';
  if (size < 1000) return `${number(value)}ms`;
  if (size < 60_000) return `${number(value / 1000)}s`;
  return `${number(value / 60_000)}min`;
}

/** A length of time in seconds as words: "8 s", "1.5 min", "5 min". */
export function span(secondsLong) {
  if (!finite(secondsLong)) return NONE;
  if (secondsLong < 60) return `${Math.round(secondsLong)} s`;
  return `${Number((secondsLong / 60).toFixed(1))} min`;
}
