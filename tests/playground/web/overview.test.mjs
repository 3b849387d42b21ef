import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  activeRuns, activeTotal, covered, finishedRuns, quantile, queues, series, workerPools,
} from '../../../orchestrator/playground/static/lib/overview.js';

const OVERVIEW = {
  at: 1000,
  runs: { in_progress: 2, queued: 1, requires_action: 0, cancelling: 0 },
  queues: { 'tools.file_search': 0, runs: 3, 'tools.code_interpreter': 1 },
  workers: {
    runs: [{ name: 'w2', beat_age_s: 10.5 }, { name: 'w1', beat_age_s: 1.2 }],
    code_interpreter: [{ name: 'c1', beat_age_s: 0.3 }],
    gpu: [{ name: 'g1', beat_age_s: 2 }],
  },
  window_s: 300,
  totals: {
    runs_per_s: 0.1, created_per_s: 0.1, finished: { completed: 4, expired: 1, cancelled: 0 },
    ttft_ms: { p50: 120.5, p90: null, p99: 300 }, duration_ms: { p50: null, p90: null, p99: null },
  },
  series: [
    { at: 996, runs_per_s: 0, ttft_p50_ms: null, active: { queued: 1, in_progress: 1 }, queued_tasks: 2 },
    { at: 998, runs_per_s: 0.5, ttft_p50_ms: 110, active: { queued: 0, in_progress: 2 }, queued_tasks: 0 },
  ],
  sources: { targets: 3, failed: [] },
};

test('series keeps gaps as null and accepts a function of the point', () => {
  assert.deepEqual(series(OVERVIEW, 'runs_per_s'), [[996, 0], [998, 0.5]]);
  assert.deepEqual(series(OVERVIEW, 'ttft_p50_ms'), [[996, null], [998, 110]]);
  assert.deepEqual(series(OVERVIEW, activeTotal), [[996, 2], [998, 2]]);
  assert.deepEqual(series({}, 'runs_per_s'), []);
});

test('active runs come in the lifecycle order with their total', () => {
  const { items, total } = activeRuns(OVERVIEW);
  assert.deepEqual(items.map((item) => item.label), ['queued', 'in_progress', 'requires_action', 'cancelling']);
  assert.equal(total, 3);
  assert.equal(activeRuns({}).total, 0);
});

test('finished runs always show completed and failed, other statuses once they occurred', () => {
  const { items, total } = finishedRuns(OVERVIEW);
  assert.deepEqual(items, [
    { label: 'completed', value: 4 }, { label: 'failed', value: 0 }, { label: 'expired', value: 1 },
  ]);
  assert.equal(total, 5);
  assert.equal(finishedRuns({ totals: { finished: {} } }).total, 0);
});

test('queues are sorted by name and summed', () => {
  const { items, total } = queues(OVERVIEW);
  assert.deepEqual(items.map((item) => item.label), ['runs', 'tools.code_interpreter', 'tools.file_search']);
  assert.equal(total, 4);
});

test('the usual pools always show, others after them; a beat older than 10 s is late', () => {
  const pools = workerPools(OVERVIEW);
  assert.deepEqual(pools.map((pool) => pool.pool), ['runs', 'code_interpreter', 'file_search', 'gpu']);
  assert.deepEqual(pools[0].workers, [{ name: 'w1', age: 1.2, late: false }, { name: 'w2', age: 10.5, late: true }]);
  assert.deepEqual(pools[2].workers, []);
});

test('quantile is null until there is one', () => {
  assert.equal(quantile(OVERVIEW, 'ttft_ms', 'p50'), 120.5);
  assert.equal(quantile(OVERVIEW, 'ttft_ms', 'p90'), null);
  assert.equal(quantile(OVERVIEW, 'duration_ms', 'p99'), null);
  assert.equal(quantile({}, 'ttft_ms', 'p50'), null);
});

test('covered is the span of the samples, at least 10 s and at most the window', () => {
  assert.equal(covered({ at: 1000, window_s: 300, series: [{ at: 960 }, { at: 1000 }] }), 40);
  assert.equal(covered({ at: 1000, window_s: 300, series: [{ at: 998 }] }), 10);
  assert.equal(covered({ at: 1000, window_s: 300, series: [{ at: 500 }] }), 300);
  assert.equal(covered({ at: 1000, window_s: 300, series: [] }), 300);
});
