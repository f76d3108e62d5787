// The live learning curve: cross-validated estimate against the number of labels, drawn as
// SVG from the project's `curve` points.

const SVG = 'http://www.w3.org/2000/svg';

/** Round `step` up to 1, 2 or 5 times a power of ten. */
function niceStep(step) {
  const power = 10 ** Math.floor(Math.log10(step));
  for (const m of [1, 2, 5, 10]) if (m * power >= step) return m * power;
  return 10 * power;
}

/**
 * Screen geometry of the curve: points in SVG coordinates, the polyline path and the ticks.
 * The y axis spans [0, 1] narrowed to the data (estimates are scores in [0, 1]); points with a
 * missing estimate are left out.
 */
export function curveGeometry(points, { width = 320, height = 180, pad = null } = {}) {
  const margin = pad || { left: 40, right: 12, top: 10, bottom: 30 };
  const valid = (points || [])
    .filter((p) => Number.isFinite(Number(p.n_labeled)) && p.estimate !== null &&
      p.estimate !== undefined && Number.isFinite(Number(p.estimate)))
    .map((p) => ({ ...p, n_labeled: Number(p.n_labeled), estimate: Number(p.estimate) }))
    .sort((a, b) => a.n_labeled - b.n_labeled);
  if (!valid.length) return { points: [], path: '', xTicks: [], yTicks: [], margin, width, height };
  const xs = valid.map((p) => p.n_labeled);
  const ys = valid.map((p) => p.estimate);
  let xLow = Math.min(...xs);
  let xHigh = Math.max(...xs);
  if (xHigh === xLow) {
    xLow -= 1;
    xHigh += 1;
  }
  let yLow = Math.min(...ys);
  let yHigh = Math.max(...ys);
  if (yLow >= 0 && yHigh <= 1) {
    yLow = Math.max(0, Math.floor((yLow - 0.05) * 10) / 10);
    yHigh = Math.min(1, Math.ceil((yHigh + 0.05) * 10) / 10);
  } else if (yHigh === yLow) {
    yLow -= 1;
    yHigh += 1;
  }
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const x = (n) => margin.left + ((n - xLow) / (xHigh - xLow)) * plotW;
  const y = (v) => margin.top + (1 - (v - yLow) / (yHigh - yLow)) * plotH;
  const placed = valid.map((p) => ({ ...p, x: x(p.n_labeled), y: y(p.estimate) }));
  const path = placed.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(' ');
  const ticks = (low, high, count, minStep = 0) => {
    const step = Math.max(minStep, niceStep((high - low) / count));
    const out = [];
    for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) {
      out.push(Number(v.toFixed(10)));
    }
    return out;
  };
  const yStep = niceStep((yHigh - yLow) / 4);
  return {
    points: placed,
    path,
    xTicks: ticks(xLow, xHigh, 4, 1).map((v) => ({ value: v, at: x(v) })),
    yTicks: ticks(yLow, yHigh, 4).map((v) => ({ value: v, at: y(v) })),
    yDigits: Math.max(0, -Math.floor(Math.log10(yStep))),
    margin,
    width,
    height,
  };
}

function svg(tag, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/** Draw `points` into the <svg> element (its viewBox gives the size). */
export function drawCurve(element, points) {
  const box = element.viewBox.baseVal;
  const width = box && box.width ? box.width : 320;
  const height = box && box.height ? box.height : 180;
  const g = curveGeometry(points, { width, height });
  const desc = element.querySelector('desc') || svg('desc');
  element.replaceChildren(desc);
  if (!g.points.length) {
    desc.textContent = 'No cross-validated estimate yet.';
    element.append(svg('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'curve-empty' },
      'no estimate yet'));
    return g;
  }
  const last = g.points[g.points.length - 1];
  desc.textContent = `${g.points.length} estimates; latest ${last.estimate.toFixed(3)} ` +
    `at ${last.n_labeled} labels (model ${last.model_version ?? '?'}).`;
  const { left, right, top, bottom } = g.margin;
  const axes = svg('g', { class: 'curve-axes' });
  axes.append(svg('line', { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }));
  axes.append(svg('line', { x1: left, y1: top, x2: left, y2: height - bottom }));
  for (const t of g.xTicks) {
    axes.append(svg('line', { x1: t.at, y1: height - bottom, x2: t.at, y2: height - bottom + 4 }));
    axes.append(svg('text', { x: t.at, y: height - bottom + 15, 'text-anchor': 'middle' }, String(t.value)));
  }
  for (const t of g.yTicks) {
    axes.append(svg('line', { x1: left - 4, y1: t.at, x2: width - right, y2: t.at, class: 'grid' }));
    axes.append(svg('text', { x: left - 6, y: t.at + 4, 'text-anchor': 'end' }, t.value.toFixed(g.yDigits)));
  }
  axes.append(svg('text', { x: (left + width - right) / 2, y: height - 2, 'text-anchor': 'middle' }, 'labels'));
  element.append(axes);
  element.append(svg('path', { d: g.path, class: 'curve-line', fill: 'none' }));
  for (const p of g.points) {
    const dot = svg('circle', { cx: p.x.toFixed(1), cy: p.y.toFixed(1), r: 3, class: 'curve-point' });
    dot.append(svg('title', {}, `model ${p.model_version ?? '?'}: ${p.estimate.toFixed(3)} at ${p.n_labeled} labels`));
    element.append(dot);
  }
  return g;
}
