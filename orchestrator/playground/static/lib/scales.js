// The geometry of the playground's charts, without the DOM: scales, "nice" axis ticks and SVG path data.
// charts.js turns what `layoutLines` and `layoutBars` return into SVG elements; node's test runner checks the numbers.

/** The smallest and largest finite values (nulls, NaN and Infinity are gaps in the data, not values). */
export function extent(values) {
  let low = Infinity;
  let high = -Infinity;
  for (const value of values) {
    if (!Number.isFinite(value)) continue;
    if (value < low) low = value;
    if (value > high) high = value;
  }
  return low > high ? null : [low, high];
}

/** A function mapping the domain [d0, d1] linearly onto the range [r0, r1] (an empty domain: the range's middle). */
export function linear([d0, d1], [r0, r1]) {
  const span = d1 - d0;
  if (span === 0) return () => (r0 + r1) / 2;
  return (value) => r0 + ((value - d0) / span) * (r1 - r0);
}

// 1, 2, 2.5 and 5 times a power of ten: steps a person reads at a glance.
function niceStep(rough) {
  const power = 10 ** Math.floor(Math.log10(rough));
  const fraction = rough / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

/**
 * About `count` intervals of a nice step covering [low, high]: `{min, max, step, ticks}` with min <= low and
 * max >= high. A flat or empty range still gets an axis (rates of an idle service are all 0).
 */
export function niceTicks(low, high, count = 4) {
  if (!Number.isFinite(low) || !Number.isFinite(high)) return niceTicks(0, 1, count);
  if (low > high) [low, high] = [high, low];
  if (low === high) {
    if (low === 0) return niceTicks(0, 1, count);
    // One value: an axis from 0 (or up to 0 when negative) so the line sits at its height, not on the floor.
    return low > 0 ? niceTicks(0, low, count) : niceTicks(low, 0, count);
  }
  const step = niceStep((high - low) / Math.max(1, count));
  const min = Math.floor(low / step + 1e-9) * step;
  const max = Math.ceil(high / step - 1e-9) * step;
  const ticks = [];
  // Multiplying (not adding) keeps 0.1 + 0.2 style drift out of the labels.
  for (let i = 0; min + i * step <= max + step * 1e-9; i += 1) ticks.push(round(min + i * step, step));
  return { min: round(min, step), max: round(max, step), step, ticks };
}

// Rounds to the step's decimals so a tick of 0.30000000000000004 reads 0.3.
function round(value, step) {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(value.toFixed(decimals));
}

function fixed(value) {
  return Number(value.toFixed(1));
}

/**
 * SVG path data through the points ([x, y] already in pixels); a point whose y is null breaks the line, so a
 * missing quantile leaves a gap instead of a dive to zero.
 */
export function linePath(points) {
  let path = '';
  let pen = false;
  for (const [x, y] of points) {
    if (y === null || !Number.isFinite(y)) {
      pen = false;
      continue;
    }
    path += `${pen ? 'L' : 'M'}${fixed(x)},${fixed(y)}`;
    pen = true;
  }
  return path;
}

/** The area under each unbroken run of points, down to `baseline` (pixels). */
export function areaPath(points, baseline) {
  const runs = [];
  let current = [];
  for (const point of points) {
    if (point[1] === null || !Number.isFinite(point[1])) {
      if (current.length) runs.push(current);
      current = [];
    } else {
      current.push(point);
    }
  }
  if (current.length) runs.push(current);
  return runs
    .map((run) => {
      const first = run[0];
      const last = run[run.length - 1];
      const floor = fixed(baseline);
      return `M${fixed(first[0])},${floor}${linePath(run).replace('M', 'L')}L${fixed(last[0])},${floor}Z`;
    })
    .join('');
}

/**
 * Lays out line charts over time. `series` is a list of arrays of `[t, value]` (value may be null); all share one
 * time axis and one value axis starting at 0 (rates, counts and latencies are never negative here).
 * Returns the plot box, each series' `line` and `area` path data, its `last` finite value and where that point
 * sits (`end`, pixels), and the ticks of
 * both axes with their pixel positions. `box` is {width, height, left, right, top, bottom} in SVG units.
 */
export function layoutLines(series, box, { ticks = 3, now = null, window = null } = {}) {
  const plot = {
    x0: box.left, x1: box.width - box.right,
    y0: box.height - box.bottom, y1: box.top,
  };
  const times = series.flatMap((points) => points.map(([t]) => t));
  const values = series.flatMap((points) => points.map(([, value]) => value));
  const timeRange = extent(times);
  // The time axis ends now and spans the window when known, so a fresh stack's few points start at the right.
  const t1 = now ?? (timeRange ? timeRange[1] : 0);
  let t0 = window ? t1 - window : (timeRange ? timeRange[0] : t1 - 1);
  if (t0 === t1) t0 = t1 - 1;
  const valueRange = extent(values);
  const axis = niceTicks(0, valueRange ? Math.max(0, valueRange[1]) : 0, ticks);
  const x = linear([t0, t1], [plot.x0, plot.x1]);
  const y = linear([axis.min, axis.max], [plot.y0, plot.y1]);
  const baseline = y(0);
  const lines = series.map((points) => {
    const pixels = points.map(([t, value]) => [x(t), Number.isFinite(value) ? y(value) : null]);
    let last = null;
    let end = null;
    points.forEach(([, value], i) => {
      if (Number.isFinite(value)) {
        last = value;
        end = [fixed(pixels[i][0]), fixed(pixels[i][1])];
      }
    });
    return { line: linePath(pixels), area: areaPath(pixels, baseline), last, end };
  });
  return {
    plot,
    lines,
    empty: valueRange === null,
    yTicks: axis.ticks.map((value) => ({ value, y: fixed(y(value)) })),
    xTicks: [{ t: t0, x: plot.x0 }, { t: t1, x: plot.x1 }],
    t0,
    t1,
  };
}

/**
 * Horizontal bars: each item `{label, value}` gets a width in [0, width] proportional to the largest value
 * (a value of 0 gets 0: the bar's absence says "nothing", and the label still shows the 0).
 */
export function layoutBars(items, width) {
  const high = Math.max(0, ...items.map((item) => (Number.isFinite(item.value) ? item.value : 0)));
  return items.map((item) => {
    const value = Number.isFinite(item.value) ? item.value : 0;
    return { ...item, value, width: high > 0 ? fixed((value / high) * width) : 0 };
  });
}

/** The index of the point with a value whose time is closest to `t` (-1 when no point has one): the hover readout. */
export function nearest(points, t) {
  let best = -1;
  for (let i = 0; i < points.length; i += 1) {
    if (!Number.isFinite(points[i][1])) continue;
    if (best < 0 || Math.abs(points[i][0] - t) < Math.abs(points[best][0] - t)) best = i;
  }
  return best;
}

/** The time under pixel `x` of a layout from `layoutLines`. */
export function timeAt(layout, x) {
  const { plot, t0, t1 } = layout;
  return linear([plot.x0, plot.x1], [t0, t1])(Math.min(plot.x1, Math.max(plot.x0, x)));
}
