// The region-labelling page of segmentation projects. The image on a canvas with the
// model's mask as a semi-transparent overlay and the asked region outlined; 1–9 choose the
// current class, a click gives the superpixel under the mouse that class (B switches to a
// brush that paints discs), Enter submits the answer (the asked region takes the current
// class if it has none yet), S skips, U undoes the last click and then the last answer.
// Answers go through the same outbox as the other pages (idempotency key, retries); the
// next region comes without a page reload.

import { formatNumber, formatPercent, pageApi, setText, showMe } from './common.js';
import { drawCurve } from './curve.js';
import { isActivatable, isTypingTarget } from './keys.js';
import {
  ModelVersion, answerBody, answerOutbox, appendLabelButtons, loadImage, openProject,
  pressLabelButton, setProgress, showNextReply, undoLastAnswer,
} from './page.js';

const api = pageApi();
const $ = (id) => document.getElementById(id);
const COLOURS = [
  [31, 119, 180], [214, 39, 40], [44, 160, 44], [148, 103, 189], [255, 127, 14],
  [140, 86, 75], [227, 119, 194], [23, 190, 207], [127, 127, 127],
];
const BRUSH_RADIUS = 4;

const state = {
  project: null,
  labels: [],
  current: null, // the /next reply on screen
  view: null, // {width, height, region, regions, labels, prediction}
  image: null,
  classIndex: 0,
  tool: 'superpixel',
  assigned: new Map(), // region -> class index (this answer)
  strokes: [], // {x, y, radius, label}
  history: [], // edits of this answer, for undo
  painting: false,
  loading: false,
  startedAt: 0,
};

function decode(runs, size) {
  const out = new Int32Array(size);
  let at = 0;
  for (let i = 0; i < runs.length; i += 2) {
    out.fill(runs[i], at, at + runs[i + 1]);
    at += runs[i + 1];
  }
  return out;
}

// ---------------------------------------------------------------- answers and the project

const outbox = answerOutbox(api, { onSent: () => refreshProject().catch(() => {}) });
const modelVersion = new ModelVersion();

function renderProject(project) {
  state.project = project;
  showMe(project.me);
  modelVersion.update(project.model_version);
  setProgress({ labelled: project.n_labeled, budget: project.budget }, 'regions');
  drawCurve($('curve'), project.curve || []);
}

async function refreshProject() {
  renderProject(await api.get(''));
}

// ---------------------------------------------------------------- drawing

function scale() {
  const view = state.view;
  return Math.max(1, Math.floor(512 / Math.max(view.width, view.height)));
}

function draw() {
  const canvas = $('canvas');
  const view = state.view;
  if (!view || !state.image) return;
  const s = scale();
  canvas.width = view.width * s;
  canvas.height = view.height * s;
  const context = canvas.getContext('2d');
  context.imageSmoothingEnabled = false;
  context.drawImage(state.image, 0, 0, canvas.width, canvas.height);
  const overlay = new ImageData(view.width, view.height);
  const labels = view.labelMap.slice();
  for (const [region, index] of state.assigned) {
    for (const p of view.pixelsOf(region)) labels[p] = index;
  }
  for (const stroke of state.strokes) {
    const index = state.labels.indexOf(stroke.label);
    const r = stroke.radius;
    for (let y = Math.max(0, Math.floor(stroke.y - r)); y <= Math.min(view.height - 1, stroke.y + r); y += 1) {
      for (let x = Math.max(0, Math.floor(stroke.x - r)); x <= Math.min(view.width - 1, stroke.x + r); x += 1) {
        if ((x - stroke.x) ** 2 + (y - stroke.y) ** 2 <= r * r) labels[y * view.width + x] = index;
      }
    }
  }
  const showPrediction = $('show-prediction').checked && view.prediction;
  for (let p = 0; p < labels.length; p += 1) {
    let index = labels[p];
    let alpha = 150;
    if (index < 0 && showPrediction) {
      index = view.prediction[p];
      alpha = 70;
    }
    if (index < 0) continue;
    const [r, g, b] = COLOURS[index % COLOURS.length];
    overlay.data.set([r, g, b, alpha], 4 * p);
  }
  // The asked region's outline, in white over black.
  const asked = view.region;
  const w = view.width;
  for (const p of view.pixelsOf(asked)) {
    const x = p % w;
    const y = (p - x) / w;
    const edge = x === 0 || y === 0 || x === w - 1 || y === view.height - 1
      || view.regions[p - 1] !== asked || view.regions[p + 1] !== asked
      || view.regions[p - w] !== asked || view.regions[p + w] !== asked;
    if (edge) overlay.data.set([255, 255, 255, 255], 4 * p);
  }
  const layer = document.createElement('canvas');
  layer.width = view.width;
  layer.height = view.height;
  layer.getContext('2d').putImageData(overlay, 0, 0);
  context.drawImage(layer, 0, 0, canvas.width, canvas.height);
}

function prepareView(view) {
  const size = view.width * view.height;
  view.regions = decode(view.regions, size);
  view.labelMap = decode(view.labels, size);
  view.prediction = view.prediction ? decode(view.prediction, size) : null;
  const members = new Map();
  for (let p = 0; p < size; p += 1) {
    const r = view.regions[p];
    if (!members.has(r)) members.set(r, []);
    members.get(r).push(p);
  }
  view.pixelsOf = (region) => members.get(region) || [];
  return view;
}

function renderReason(reply) {
  const r = (reply && reply.reason) || {};
  setText('why-strategy', r.strategy);
  setText('why-score', formatNumber(r.score));
  setText('why-model', r.model_version ? r.model_version : 'cold start (no model yet)');
  const suggestion = reply && reply.suggestion;
  setText('why-suggestion', suggestion && suggestion.label
    ? `${suggestion.label} (${formatPercent(suggestion.confidence)} of the region)` : '–');
}

function setClass(index) {
  if (index < 0 || index >= state.labels.length) return;
  state.classIndex = index;
  setText('current-class', state.labels[index]);
  pressLabelButton(index);
}

async function display(reply) {
  $('item').setAttribute('aria-busy', 'false');
  if (reply && reply.progress) setProgress(reply.progress, 'regions');
  const item = reply && reply.item;
  state.current = item ? reply : null;
  state.assigned = new Map();
  state.strokes = [];
  state.history = [];
  $('empty').hidden = Boolean(item);
  $('canvas').hidden = !item;
  renderReason(reply);
  if (!item) {
    setText('item-id', null);
    setText('region-id', null);
    setTimeout(() => { if (!state.current && !state.loading) showNext(); }, 10000);
    return;
  }
  const [view, image] = await Promise.all([
    api.get(`/items/${item.id}/segmentation`),
    loadImage(item.image_url),
  ]);
  if (state.current !== reply) return; // another reply arrived meanwhile
  state.view = prepareView(view);
  state.image = image;
  state.startedAt = performance.now();
  setText('item-id', item.id);
  setText('region-id', view.region);
  $('canvas').dataset.ready = String(item.id);
  draw();
  if (!isTypingTarget(document.activeElement)) $('item').focus({ preventScroll: true });
}

// ---------------------------------------------------------------- the queue

async function showNext() {
  state.loading = true;
  $('item').setAttribute('aria-busy', 'true');
  $('canvas').dataset.ready = '';
  try {
    await outbox.drain();
    await showNextReply(api, display, 'region');
  } finally {
    state.loading = false;
  }
}

function send(skipped = false) {
  const reply = state.current;
  if (!reply || !state.view) return;
  if (!skipped && !state.assigned.has(state.view.region)) {
    state.assigned.set(state.view.region, state.classIndex);
  }
  const annotation = skipped ? null : {
    regions: [...state.assigned].map(([region, index]) => ({ region, label: state.labels[index] })),
    strokes: state.strokes,
  };
  state.current = null;
  const seconds = Math.round(performance.now() - state.startedAt) / 1000;
  outbox.add(answerBody(reply, { labels: [], skipped, annotation }, seconds), `item ${reply.item.id}`);
  showNext();
}

async function undo() {
  if (state.current && state.history.length) {
    const last = state.history.pop();
    if (last.type === 'region') {
      if (last.before === undefined) state.assigned.delete(last.region);
      else state.assigned.set(last.region, last.before);
    } else {
      state.strokes.splice(last.from);
    }
    draw();
    return;
  }
  await undoLastAnswer(api, outbox, display, { after: () => refreshProject().catch(() => {}) });
}

// ---------------------------------------------------------------- mouse and keys

function pixelAt(event) {
  const canvas = $('canvas');
  const box = canvas.getBoundingClientRect();
  const x = Math.floor(((event.clientX - box.left) / box.width) * state.view.width);
  const y = Math.floor(((event.clientY - box.top) / box.height) * state.view.height);
  if (x < 0 || y < 0 || x >= state.view.width || y >= state.view.height) return null;
  return { x, y };
}

function brush(point) {
  state.strokes.push({ x: point.x, y: point.y, radius: BRUSH_RADIUS, label: state.labels[state.classIndex] });
}

$('canvas').addEventListener('mousedown', (event) => {
  if (!state.current || !state.view) return;
  const point = pixelAt(event);
  if (!point) return;
  event.preventDefault();
  if (state.tool === 'brush') {
    state.history.push({ type: 'stroke', from: state.strokes.length });
    state.painting = true;
    brush(point);
  } else {
    const region = state.view.regions[point.y * state.view.width + point.x];
    state.history.push({ type: 'region', region, before: state.assigned.get(region) });
    state.assigned.set(region, state.classIndex);
  }
  draw();
});
$('canvas').addEventListener('mousemove', (event) => {
  if (!state.painting) return;
  const point = pixelAt(event);
  if (point) {
    brush(point);
    draw();
  }
});
document.addEventListener('mouseup', () => { state.painting = false; });

document.addEventListener('keydown', (event) => {
  if (event.defaultPrevented || !state.project) return;
  if (isTypingTarget(event.target)) return;
  if ((event.key === 'Enter' || event.key === ' ') && isActivatable(event.target)) return;
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  const key = event.key;
  if (/^[1-9]$/.test(key)) {
    setClass(Number(key) - 1);
  } else if (key === 'Enter') {
    send(false);
  } else if (key === 's' || key === 'S') {
    send(true);
  } else if (key === 'u' || key === 'U' || key === 'Backspace') {
    undo();
  } else if (key === 'b' || key === 'B') {
    state.tool = state.tool === 'brush' ? 'superpixel' : 'brush';
    setText('tool', state.tool);
  } else {
    return;
  }
  event.preventDefault();
});

$('submit').addEventListener('click', () => send(false));
$('skip').addEventListener('click', () => send(true));
$('undo').addEventListener('click', () => undo());
$('reload').addEventListener('click', () => showNext());
$('show-prediction').addEventListener('change', () => draw());

async function start() {
  if (!(await openProject(refreshProject))) return;
  state.labels = state.project.labels || [];
  appendLabelButtons($('labels'), state.labels, {
    className: (label, index) => `label-button ent-swatch ent-${index % 9}`,
    pressed: 'false',
    onPick: (index) => setClass(index),
  });
  setClass(0);
  await showNext();
  setInterval(() => refreshProject().catch(() => {}), 15000);
}

start();
