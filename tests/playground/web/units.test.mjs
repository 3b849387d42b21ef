import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  compact, compactMs, count, ms, msParts, number, rate, seconds, span,
} from '../../../orchestrator/playground/static/lib/units.js';

test('a missing value is a dash, never NaN or null', () => {
  for (const format of [compact, compactMs, count, ms, number, rate, seconds, span]) {
    for (const value of [null, undefined, NaN, Infinity, 'x']) {
      assert.equal(format(value), '–', `${format.name}(${value})`);
    }
  }
  assert.deepEqual(msParts(null), ['–', '']);
});

test('numbers keep the digits that matter at their size', () => {
  assert.equal(number(0), '0');
  assert.equal(number(0.01234), '0.012');
  assert.equal(number(0.256), '0.26');
  assert.equal(number(3.456), '3.46');
  assert.equal(number(12.34), '12.3');
  assert.equal(number(1234.5), '1,235');
  assert.equal(count(2.6), '3');
  assert.equal(rate(0.5), '0.5/s');
});

test('milliseconds switch to seconds and minutes', () => {
  assert.equal(ms(85.2), '85.2 ms');
  assert.equal(ms(1234), '1.23 s');
  assert.equal(ms(150_000), '2.5 min');
  assert.deepEqual(msParts(612), ['612', 'ms']);
  assert.equal(compactMs(500), '500ms');
  assert.equal(compactMs(2000), '2s');
  assert.equal(compactMs(0), '0');
});

test('ages, spans and axis labels are short', () => {
  assert.equal(seconds(1.26), '1.3 s');
  assert.equal(seconds(12.4), '12 s');
  assert.equal(seconds(90), '1.5 min');
  assert.equal(span(300), '5 min');
  assert.equal(span(90), '1.5 min');
  assert.equal(span(8.04), '8 s');
  assert.equal(span(190), '3.2 min');
  assert.equal(compact(1500), '1.5k');
  assert.equal(compact(2_000_000), '2M');
  assert.equal(compact(0.5), '0.5');
});
