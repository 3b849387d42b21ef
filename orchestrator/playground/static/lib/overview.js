// Reading GET /v1/ops/overview for the operations view, without the DOM: series as [t, value] points, statuses in
// a fixed order, workers per pool with their heartbeats judged.

/** Active run statuses, in the order a run passes through them. */
export const ACTIVE = ['queued', 'in_progress', 'requires_action', 'cancelling'];
/** Terminal statuses; completed and failed always show (as 0), the others when they occurred. */
export const FINISHED = ['completed', 'failed', 'cancelled', 'expired', 'incomplete'];
const ALWAYS_FINISHED = ['completed', 'failed'];
/** The pools `orchestrator up` starts, shown even when none of their workers beats (that absence is the news). */
export const POOLS = ['runs', 'code_interpreter', 'file_search'];
/** A worker beats every 5 s: a beat older than two intervals means it is busy past a beat or going away. */
export const LATE_BEAT_S = 10;

function num(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** `[at, point[field]]` for each sample, oldest first; a missing value stays null (a gap, not a zero). */
export function series(overview, field) {
  return (overview.series || []).map((point) => {
    const value = typeof field === 'function' ? field(point) : point[field];
    return [point.at, typeof value === 'number' && Number.isFinite(value) ? value : null];
  });
}

/** Active runs by status, every status present; `total` is their sum. */
export function activeRuns(overview) {
  const runs = overview.runs || {};
  const statuses = [...ACTIVE, ...Object.keys(runs).filter((status) => !ACTIVE.includes(status))];
  const items = statuses.map((status) => ({ label: status, value: num(runs[status]) }));
  return { items, total: items.reduce((sum, item) => sum + item.value, 0) };
}

/** Runs finished over the window by status, known statuses first. */
export function finishedRuns(overview) {
  const finished = (overview.totals && overview.totals.finished) || {};
  const known = FINISHED.filter((status) => ALWAYS_FINISHED.includes(status) || num(finished[status]) > 0);
  const other = Object.keys(finished).filter((status) => !FINISHED.includes(status) && num(finished[status]) > 0);
  const items = [...known, ...other].map((status) => ({ label: status, value: num(finished[status]) }));
  return { items, total: items.reduce((sum, item) => sum + item.value, 0) };
}

/** Queue depths by queue name, sorted by name; `total` is the tasks waiting in all of them. */
export function queues(overview) {
  const depths = overview.queues || {};
  const items = Object.keys(depths).sort().map((name) => ({ label: name, value: num(depths[name]) }));
  return { items, total: items.reduce((sum, item) => sum + item.value, 0) };
}

/** Each pool (the usual ones first) with its live workers sorted by name, each marked `late` past LATE_BEAT_S. */
export function workerPools(overview) {
  const workers = overview.workers || {};
  const names = [...POOLS, ...Object.keys(workers).filter((pool) => !POOLS.includes(pool)).sort()];
  return names.map((pool) => ({
    pool,
    workers: (workers[pool] || [])
      .map((worker) => {
        const age = num(worker.beat_age_s);
        return { name: String(worker.name), age, late: age > LATE_BEAT_S };
      })
      .sort((a, b) => a.name.localeCompare(b.name)),
  }));
}

/** The total of active runs at each sample (the sum of `active`). */
export function activeTotal(point) {
  return Object.values(point.active || {}).reduce((sum, value) => sum + num(value), 0);
}

/** A quantile of the window's totals (`ttft_ms` or `duration_ms`), null when there is none yet. */
export function quantile(overview, metric, name) {
  const value = overview.totals && overview.totals[metric] ? overview.totals[metric][name] : null;
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** A chart's time axis spans at least this much, so a few seconds of samples are not stretched into cliffs. */
export const MIN_SPAN_S = 10;

/**
 * The seconds the samples cover, up to the window: the sampler starts when someone first looks, so for a while
 * the window's averages are over less than `window_s` (and the charts' time axes span what there is).
 */
export function covered(overview) {
  const window = num(overview.window_s);
  const points = overview.series || [];
  if (!points.length) return window;
  return Math.min(window, Math.max(MIN_SPAN_S, num(overview.at) - num(points[0].at)));
}
