// Small SVG charts for the operations view: a sparkline (line over an area), a chart of a few lines (p50 and p99)
// and a list of horizontal bars. The numbers come from scales.js; here they become elements, with classes only
// (the page's CSP forbids style attributes: colours live in style.css under "Operations").

import { svg } from './dom.js';
import {
  layoutBars, layoutLines, linear, nearest, timeAt,
} from './scales.js';
import { compact, span } from './units.js';

const WIDTH = 300;
const HEIGHT = 96;
const BOX = { width: WIDTH, height: HEIGHT, left: 36, right: 6, top: 16, bottom: 16 };

function frame(label, children) {
  return svg('svg', {
    class: 'chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': label,
  }, svg('title', null, label), children);
}

// The value axis (a few ticks with labels in the left margin) and the time axis ("−5 min" ... "now").
function axes(layout, formatTick, windowSeconds) {
  const { plot } = layout;
  // Without data a scale would be made up: only the floor line stays.
  const ticks = layout.empty ? layout.yTicks.slice(0, 1) : layout.yTicks;
  const parts = ticks.map(({ value, y }) => [
    svg('line', { class: value === 0 ? 'axis' : 'grid', x1: plot.x0, x2: plot.x1, y1: y, y2: y }),
    svg('text', { class: 'tick', x: plot.x0 - 4, y: y + 3, 'text-anchor': 'end' }, formatTick(value)),
  ]);
  const past = windowSeconds ? `−${span(windowSeconds)}` : '';
  parts.push(svg('text', { class: 'tick', x: plot.x0, y: HEIGHT - 3 }, past));
  parts.push(svg('text', { class: 'tick', x: plot.x1, y: HEIGHT - 3, 'text-anchor': 'end' }, 'now'));
  return parts;
}

// Under the pointer: a rule at the nearest sample, and `show(index)` writes its values where the latest ones are
// (`show(null)` puts those back when the pointer leaves). `points` give the samples' times.
function hover(chart, layout, points, show) {
  const rule = svg('line', { class: 'rule hidden', y1: layout.plot.y1, y2: layout.plot.y0 });
  const x = linear([layout.t0, layout.t1], [layout.plot.x0, layout.plot.x1]);
  chart.appendChild(rule);
  chart.addEventListener('pointermove', (event) => {
    const matrix = chart.getScreenCTM();
    if (!matrix) return;
    const at = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
    const index = nearest(points, timeAt(layout, at.x));
    if (index < 0) return;
    const left = x(points[index][0]).toFixed(1);
    rule.setAttribute('x1', left);
    rule.setAttribute('x2', left);
    rule.classList.remove('hidden');
    show(index);
  });
  chart.addEventListener('pointerleave', () => {
    rule.classList.add('hidden');
    show(null);
  });
  return chart;
}

function clock(t) {
  return new Date(t * 1000).toLocaleTimeString();
}

function nothing(layout, text) {
  const { plot } = layout;
  const at = { x: (plot.x0 + plot.x1) / 2, y: (plot.y0 + plot.y1) / 2 + 4 };
  return svg('text', { class: 'empty', ...at, 'text-anchor': 'middle' }, text);
}

/**
 * A line over a filled area for one value over time. `points` are `[t, value]` (seconds, oldest first);
 * `format` writes the latest value (top right), `formatTick` the axis labels; `window` and `now` fix the time axis.
 */
export function sparkline(points, options = {}) {
  const { label, format = compact, formatTick = compact, window = null, now = null, empty = 'no data yet' } = options;
  const layout = layoutLines([points], BOX, { ticks: 2, window, now });
  const [series] = layout.lines;
  const latest = svg('text', { class: 'latest', x: layout.plot.x1, y: 10, 'text-anchor': 'end' },
    series.last === null ? '' : format(series.last));
  const chart = frame(`${label}: latest ${format(series.last)}`, [
    axes(layout, formatTick, window),
    svg('path', { class: 'area', d: series.area }),
    svg('path', { class: 'line', d: series.line }),
    series.end ? svg('circle', { class: 'dot', r: 2.5, cx: series.end[0], cy: series.end[1] }) : null,
    latest,
    layout.empty ? nothing(layout, empty) : null,
  ]);
  return hover(chart, layout, points, (index) => {
    latest.textContent = index === null
      ? (series.last === null ? '' : format(series.last))
      : `${clock(points[index][0])}  ${format(points[index][1])}`;
  });
}

/**
 * A few lines on shared axes, e.g. `[{name: 'p50', points}, {name: 'p99', points, className: 'second'}]`; the
 * legend (top right) gives each line's name and latest value.
 */
export function multiLine(series, options = {}) {
  const { label, format = compact, formatTick = compact, window = null, now = null, empty = 'no data yet' } = options;
  const layout = layoutLines(series.map((item) => item.points), BOX, { ticks: 2, window, now });
  const names = series.map((item, i) => `${item.name} ${format(layout.lines[i].last)}`);
  // One text of tspans: the browser places them one after the other, ending at the right edge.
  const parts = names.map((name, i) => svg('tspan', { class: series[i].className, dx: i ? 10 : null }, name));
  const when = svg('tspan', { class: 'when' });
  const legend = layout.empty
    ? null
    : svg('text', { class: 'legend', x: layout.plot.x1, y: 10, 'text-anchor': 'end' }, when, parts);
  const chart = frame(`${label}: ${names.join(', ')}`, [
    axes(layout, formatTick, window),
    layout.lines.map((line, i) => svg('path', { class: ['line', series[i].className], d: line.line })),
    // The newest point of each line: the only mark while a line has a single sample.
    layout.lines.map((line, i) => (line.end
      ? svg('circle', { class: ['dot', series[i].className], r: 2.5, cx: line.end[0], cy: line.end[1] })
      : null)),
    legend,
    layout.empty ? nothing(layout, empty) : null,
  ]);
  // Every series has the same samples: the first one's times place the rule, whatever values are missing.
  const times = (series[0] ? series[0].points : []).map(([t]) => [t, 0]);
  return hover(chart, layout, times, (index) => {
    when.textContent = index === null ? '' : `${clock(times[index][0])}  `;
    parts.forEach((part, i) => {
      const value = index === null ? layout.lines[i].last : series[i].points[index][1];
      part.textContent = `${series[i].name} ${format(value)}`;
    });
  });
}

const ROW = 24;

/**
 * Labelled horizontal bars, one row each: the label and value on a line, the bar under it, as long as the value
 * relative to the largest. `items` are `{label, value, className}`.
 */
export function barList(items, { label, format = compact, empty = 'nothing yet' } = {}) {
  const left = 2;
  const inner = WIDTH - left - 2;
  const bars = layoutBars(items, inner);
  const height = Math.max(1, bars.length) * ROW + 2;
  const rows = bars.map((bar, i) => {
    const top = i * ROW;
    return svg('g', { class: ['bar-row', bar.className], 'data-label': bar.label },
      svg('text', { class: 'bar-label', x: left, y: top + 11 }, bar.label),
      svg('text', { class: 'bar-value', x: WIDTH - 2, y: top + 11, 'text-anchor': 'end' }, format(bar.value)),
      svg('rect', { class: 'track', x: left, y: top + 14, width: inner, height: 6, rx: 3 }),
      bar.width > 0
        ? svg('rect', { class: 'fill', x: left, y: top + 14, width: Math.max(3, bar.width), height: 6, rx: 3 })
        : null);
  });
  const summary = bars.map((bar) => `${bar.label} ${format(bar.value)}`).join(', ');
  const name = `${label}: ${summary || empty}`;
  return svg('svg', { class: 'chart bars', viewBox: `0 0 ${WIDTH} ${height}`, role: 'img', 'aria-label': name },
    svg('title', null, name),
    rows.length ? rows : svg('text', { class: 'empty', x: WIDTH / 2, y: 16, 'text-anchor': 'middle' }, empty));
}
