import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  areaPath, extent, layoutBars, layoutLines, linear, linePath, nearest, niceTicks, timeAt,
} from '../../../orchestrator/playground/static/lib/scales.js';

test('extent skips gaps and non-finite values', () => {
  assert.deepEqual(extent([3, null, 1, NaN, 7, Infinity]), [1, 7]);
  assert.equal(extent([null, NaN]), null);
  assert.equal(extent([]), null);
});

test('linear maps the domain onto the range, inverted ranges included', () => {
  const y = linear([0, 10], [80, 0]);
  assert.equal(y(0), 80);
  assert.equal(y(10), 0);
  assert.equal(y(2.5), 60);
  assert.equal(linear([5, 5], [0, 100])(5), 50);
});

test('niceTicks covers the range with steps of 1, 2, 2.5 or 5 times a power of ten', () => {
  assert.deepEqual(niceTicks(0, 7.3, 4), { min: 0, max: 8, step: 2, ticks: [0, 2, 4, 6, 8] });
  assert.deepEqual(niceTicks(0, 0.93, 3).ticks, [0, 0.5, 1]);
  assert.deepEqual(niceTicks(0, 1234, 4).ticks, [0, 500, 1000, 1500]);
  assert.deepEqual(niceTicks(0, 0.3, 3).ticks, [0, 0.1, 0.2, 0.3]);
  const { ticks } = niceTicks(0.1, 0.7, 6);
  assert.ok(ticks.every((tick) => String(tick).length <= 4), `no float drift in ${ticks}`);
});

test('niceTicks gives a flat or missing range an axis from zero', () => {
  assert.deepEqual(niceTicks(0, 0, 2).ticks, [0, 0.5, 1]);
  assert.deepEqual(niceTicks(40, 40, 2).ticks, [0, 20, 40]);
  assert.deepEqual(niceTicks(NaN, 3, 2).ticks, [0, 0.5, 1]);
  assert.deepEqual(niceTicks(10, 0, 2).ticks, [0, 5, 10]);
});

test('linePath breaks at missing values instead of dropping to zero', () => {
  assert.equal(linePath([[0, 10], [5, 20], [10, null], [15, 30], [20, 40]]), 'M0,10L5,20M15,30L20,40');
  assert.equal(linePath([[0, null]]), '');
  assert.equal(linePath([[1.234, 5.678]]), 'M1.2,5.7');
});

test('areaPath closes each unbroken run down to the baseline', () => {
  assert.equal(areaPath([[0, 10], [5, 20], [10, null], [15, 30]], 50),
    'M0,50L0,10L5,20L5,50ZM15,50L15,30L15,50Z');
  assert.equal(areaPath([], 50), '');
});

const BOX = { width: 100, height: 60, left: 10, right: 0, top: 0, bottom: 10 };

test('layoutLines spans the window up to now, starts the value axis at 0 and reports the latest value', () => {
  const layout = layoutLines([[[90, 1], [100, 3]], [[95, null], [100, 7]]], BOX, { ticks: 2, now: 100, window: 20 });
  assert.deepEqual(layout.plot, { x0: 10, x1: 100, y0: 50, y1: 0 });
  assert.equal(layout.t0, 80);
  assert.deepEqual(layout.yTicks.map((tick) => tick.value), [0, 5, 10]);
  assert.deepEqual(layout.yTicks.map((tick) => tick.y), [50, 25, 0]);
  // t=90 is half way through the window: x = 10 + 90 / 2; value 1 of 10 over 50 pixels: y = 45.
  assert.equal(layout.lines[0].line, 'M55,45L100,35');
  assert.equal(layout.lines[0].last, 3);
  assert.deepEqual(layout.lines[0].end, [100, 35]);
  assert.equal(layout.lines[1].line, 'M100,15');
  assert.equal(layout.lines[1].last, 7);
  assert.equal(layout.empty, false);
});

test('layoutLines without values is empty, with no latest value and no NaN anywhere', () => {
  const layout = layoutLines([[[1, null], [2, null]], []], BOX, { now: 2, window: 300 });
  assert.equal(layout.empty, true);
  assert.equal(layout.lines[0].last, null);
  assert.equal(layout.lines[0].end, null);
  assert.equal(layout.lines[0].line, '');
  assert.ok(!JSON.stringify(layout).includes('NaN'));
  const none = layoutLines([[]], BOX, {});
  assert.ok(!JSON.stringify(none).includes('NaN'));
});

test('layoutBars scales to the largest value; zeros and gaps get no bar', () => {
  const items = [
    { label: 'a', value: 4 }, { label: 'b', value: 1 }, { label: 'c', value: 0 }, { label: 'd', value: null },
  ];
  const bars = layoutBars(items, 200);
  assert.deepEqual(bars.map((bar) => bar.width), [200, 50, 0, 0]);
  assert.equal(bars[3].value, 0);
  assert.deepEqual(layoutBars([{ label: 'a', value: 0 }], 200).map((bar) => bar.width), [0]);
});

test('nearest finds the closest point that has a value', () => {
  const points = [[10, 1], [12, null], [14, 3]];
  assert.equal(nearest(points, 11.9), 0);
  assert.equal(nearest(points, 12.1), 2);
  assert.equal(nearest(points, 100), 2);
  assert.equal(nearest([[1, null]], 1), -1);
  assert.equal(nearest([], 1), -1);
});

test('timeAt inverts the time axis and clamps to the plot', () => {
  const layout = layoutLines([[[90, 1], [100, 3]]], BOX, { now: 100, window: 20 });
  assert.equal(timeAt(layout, 55), 90);
  assert.equal(timeAt(layout, 0), 80);
  assert.equal(timeAt(layout, 500), 100);
});
