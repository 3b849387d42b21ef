// The live operations view (#/ops): what is in flight now and how the last minutes went, from GET /v1/ops/overview
// (aggregates over all projects, sampled by the API every 2 s). It asks again 2 s after each answer, so requests
// never overlap; a failed poll keeps the last picture and says so in an alert until a poll succeeds again.

import { request } from '../lib/api.js';
import { barList, multiLine, sparkline } from '../lib/charts.js';
import { h, mount } from '../lib/dom.js';
import {
  activeRuns, activeTotal, covered, finishedRuns, queues, quantile, series, workerPools,
} from '../lib/overview.js';
import {
  compactMs, count, ms, msParts, number, rate, seconds, span,
} from '../lib/units.js';

const EVERY_MS = 2000;
const NO_RUNS = 'no runs yet';

function tile(id, title) {
  const body = h('div', { class: 'tile-body' });
  const element = h('section', { class: 'card tile', 'aria-label': title, 'data-testid': `tile-${id}` },
    h('h3', null, title), body);
  return { element, body };
}

// A large number with its unit beside it, and a line that says what it counts.
function headline(value, unit, caption) {
  return [
    h('div', { class: 'big' },
      h('span', { class: 'value', 'data-testid': 'value' }, value),
      h('span', { class: 'unit' }, unit)),
    h('p', { class: 'caption muted' }, caption),
  ];
}

function plural(n, one, many) {
  return n === 1 ? one : many;
}

function byStatus(items) {
  return items.map((item) => ({ ...item, className: `status-${item.label}` }));
}

function clock(at) {
  return new Date(at * 1000).toLocaleTimeString();
}

function drawRunsNow(body, overview, axis) {
  const { items, total } = activeRuns(overview);
  mount(body,
    headline(count(total), plural(total, 'active run', 'active runs'), 'by status, now'),
    barList(byStatus(items), { label: 'Active runs by status', format: count }),
    sparkline(series(overview, activeTotal), { label: 'Active runs', format: count, ...axis }));
}

function drawRate(body, overview, field, title, axis) {
  mount(body,
    headline(number(overview.totals[field]), 'runs/s', `average over the last ${span(covered(overview))}`),
    sparkline(series(overview, field), { label: title, format: rate, ...axis, empty: NO_RUNS }));
}

function drawFinished(body, overview) {
  const { items, total } = finishedRuns(overview);
  mount(body,
    headline(count(total), plural(total, 'run', 'runs'),
      `reached a final status in the last ${span(covered(overview))}`),
    total === 0
      ? h('p', { class: 'empty muted' }, NO_RUNS)
      : barList(byStatus(items), { label: 'Finished runs by status', format: count }));
}

function stat(name, value, className) {
  const [shown, unit] = msParts(value);
  return h('span', { class: ['stat', className], 'data-testid': name },
    h('span', { class: 'value' }, shown),
    h('span', { class: 'unit' }, unit ? `${unit} ${name}` : name));
}

// p50 and p99 over the window in large type; the chart's lines are each sample's quantiles over its last minute.
function drawQuantiles(body, overview, metric, prefix, title, axis) {
  const p50 = quantile(overview, metric, 'p50');
  const window = span(covered(overview));
  mount(body,
    h('div', { class: 'big' }, stat('p50', p50), stat('p99', quantile(overview, metric, 'p99'), 'second')),
    h('p', { class: 'caption muted' },
      p50 === null ? `${NO_RUNS} in the last ${window}` : `over the last ${window}; lines: rolling minute`),
    multiLine([
      { name: 'p50', points: series(overview, `${prefix}_p50_ms`) },
      { name: 'p99', points: series(overview, `${prefix}_p99_ms`), className: 'second' },
    ], { label: title, format: ms, formatTick: compactMs, ...axis, empty: NO_RUNS }));
}

function drawQueues(body, overview, axis) {
  const { items, total } = queues(overview);
  mount(body,
    headline(count(total), plural(total, 'task waiting', 'tasks waiting'), 'per pool queue, now'),
    barList(items, { label: 'Queue depth', format: count, empty: 'no queues reported' }),
    sparkline(series(overview, 'queued_tasks'), { label: 'Tasks waiting', format: count, ...axis }));
}

function workerItem(worker) {
  return h('li', { 'data-worker': worker.name },
    h('span', {
      class: ['beat', worker.late && 'late'], role: 'img',
      'aria-label': worker.late ? 'late heartbeat' : 'recent heartbeat',
    }),
    h('span', { class: 'worker-name' }, worker.name),
    h('span', { class: 'age muted', 'data-testid': 'beat-age' }, `${seconds(worker.age)} ago`));
}

function drawWorkers(body, overview) {
  const pools = workerPools(overview);
  const total = pools.reduce((sum, pool) => sum + pool.workers.length, 0);
  mount(body,
    headline(count(total), plural(total, 'live worker', 'live workers'),
      'heartbeat age at the sample; amber past 10 s'),
    h('div', { class: 'pools', 'data-testid': 'workers' }, pools.map(({ pool, workers }) =>
      h('div', { class: 'pool', 'data-pool': pool },
        h('h4', null, pool,
          h('span', { class: 'muted' }, ` · ${workers.length} ${plural(workers.length, 'worker', 'workers')}`)),
        workers.length
          ? h('ul', { class: 'workers' }, workers.map(workerItem))
          : h('p', { class: 'error' }, 'no live worker')))));
}

function drawSources(element, overview) {
  const sources = overview.sources || { targets: 0, failed: [] };
  const failed = sources.failed || [];
  mount(element,
    `Metrics scraped from ${count(sources.targets)} ${plural(sources.targets, 'target', 'targets')}`,
    failed.length
      ? h('span', { class: 'failed' }, `, ${failed.length} failed: ${failed.join(', ')}`)
      : ', all answered',
    ` · sampled at ${clock(overview.at)} · window ${span(overview.window_s)} · refreshed every ${EVERY_MS / 1000} s`);
}

export function render(root) {
  // Now (bars) on the first row, the window's charts on the second.
  const tiles = {
    now: tile('runs-now', 'Runs now'),
    queues: tile('queues', 'Queues'),
    workers: tile('workers', 'Workers'),
    finished: tile('finished', 'Finished runs'),
    finishedRate: tile('runs-per-s', 'Runs finished per second'),
    createdRate: tile('created-per-s', 'Runs created per second'),
    ttft: tile('ttft', 'Time to first token'),
    duration: tile('duration', 'Run duration'),
  };
  // Where the pointer is over the tiles: a redraw puts a chart's readout back under it.
  let pointer = null;
  const banner = h('p', { class: 'error notice-bad', role: 'alert' });
  const sources = h('p', { class: 'muted sources', 'data-testid': 'sources' }, 'Waiting for the first sample…');
  mount(root, h('div', { class: 'ops-view' },
    h('div', { class: 'row ops-head' },
      h('h2', null, 'Operations'),
      h('span', { class: 'muted' }, 'all projects, live')),
    banner,
    h('div', {
      class: 'tiles ops',
      onpointermove: (event) => { pointer = { x: event.clientX, y: event.clientY }; },
      onpointerleave: () => { pointer = null; },
    }, Object.values(tiles).map((item) => item.element)),
    sources));

  function draw(overview) {
    // The time axes end at the sample and span what the samples cover (the whole window once it is full).
    const axis = { window: covered(overview), now: overview.at };
    drawRunsNow(tiles.now.body, overview, axis);
    drawRate(tiles.finishedRate.body, overview, 'runs_per_s', 'Runs finished per second', axis);
    drawRate(tiles.createdRate.body, overview, 'created_per_s', 'Runs created per second', axis);
    drawFinished(tiles.finished.body, overview);
    drawQuantiles(tiles.ttft.body, overview, 'ttft_ms', 'ttft', 'Time to first token', axis);
    drawQuantiles(tiles.duration.body, overview, 'duration_ms', 'duration', 'Run duration', axis);
    drawQueues(tiles.queues.body, overview, axis);
    drawWorkers(tiles.workers.body, overview);
    drawSources(sources, overview);
    if (pointer) {
      const under = document.elementFromPoint(pointer.x, pointer.y);
      const chart = under && under.closest('svg.chart');
      if (chart) chart.dispatchEvent(new PointerEvent('pointermove', { clientX: pointer.x, clientY: pointer.y }));
    }
  }

  let last = null;
  let stopped = false;
  let timer = null;
  let controller = null;

  async function poll() {
    controller = new AbortController();
    try {
      const overview = await request('GET', '/ops/overview', { signal: controller.signal });
      if (stopped) return;
      draw(overview);
      last = overview;
      banner.textContent = '';
    } catch (error) {
      if (stopped) return;
      banner.textContent = `Could not refresh the overview: ${error.message || error}. `
        + (last ? `Showing the sample taken at ${clock(last.at)}.` : 'Trying again.');
    }
    // The next poll starts only once this one has ended: a slow server never has two of them in flight.
    if (!stopped) timer = setTimeout(poll, EVERY_MS);
  }

  poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (controller) controller.abort();
  };
}
