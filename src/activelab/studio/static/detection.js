// The box-labelling page of detection projects. The image on a canvas with the boxes drawn
// so far and the detector's proposals (dashed, with their confidence). Drag on the image to
// draw a box of the current class; drag a box to move it, a corner to resize it; 1–9 set
// the selected box's class (and the class of new boxes); Delete removes the selected box;
// A (or a click on it) accepts a proposal; Enter submits the image's boxes; S skips; U
// undoes the last edit, then the last answer. Answers go through the same outbox as the
// other pages (idempotency key, retries); the next image comes without a page reload.

import { formatNumber, formatPercent, pageApi, setText, showMe } from './common.js';
import { boxFromCorners, hitTest, moveBox, resizeBox } from './boxes.js';
import { isActivatable, isTypingTarget } from './keys.js';
import {
  ModelVersion, answerBody, answerOutbox, appendLabelButtons, loadImage, openProject,
  pressLabelButton, setProgress, showNextReply, undoLastAnswer,
} from './page.js';

const api = pageApi();
const $ = (id) => document.getElementById(id);
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2',
  '#17becf', '#7f7f7f'];
const MIN_SIDE = 2; // screen pixels: a shorter drag is a click, not a box
const GRIP = 6; // screen pixels around a corner that resize

const state = {
  project: null,
  labels: [],
  current: null, // the /next reply on screen
  view: null, // {width, height, proposals, previous, detector}
  image: null,
  classIndex: 0,
  boxes: [], // {x, y, w, h, label, source, confidence}
  proposals: [], // {x, y, w, h, label, confidence}: not accepted yet
  selected: null, // {kind: 'box' | 'proposal', index}
  drag: null, // {mode: 'draw' | 'move' | 'resize', ...}
  history: [], // snapshots of {boxes, proposals} before each edit, for undo
  loading: false,
  startedAt: 0,
};

// ---------------------------------------------------------------- answers and the project

const outbox = answerOutbox(api, { onSent: () => refreshProject().catch(() => {}) });
const modelVersion = new ModelVersion(
  (version) => `The detector ranked the images: version ${version}`);

function renderProject(project) {
  state.project = project;
  showMe(project.me);
  const version = project.model_version;
  modelVersion.update(version, project.detector ? String(version) : 'none');
  $('no-detector').hidden = Boolean(project.detector);
  setProgress({ labelled: project.n_labeled, budget: project.budget }, 'images');
}

async function refreshProject() {
  renderProject(await api.get(''));
}

// ---------------------------------------------------------------- drawing

function scale() {
  const view = state.view;
  return Math.min(8, 640 / Math.max(view.width, view.height));
}

function colour(label) {
  return COLOURS[Math.max(0, state.labels.indexOf(label)) % COLOURS.length];
}

function drawBox(context, box, s, { dashed, selected, caption }) {
  context.save();
  context.strokeStyle = colour(box.label);
  context.lineWidth = selected ? 3 : 2;
  context.setLineDash(dashed ? [6, 4] : []);
  context.strokeRect(box.x * s, box.y * s, box.w * s, box.h * s);
  if (selected && !dashed) {
    context.fillStyle = '#ffffff';
    for (const [cx, cy] of [[box.x, box.y], [box.x + box.w, box.y], [box.x, box.y + box.h],
      [box.x + box.w, box.y + box.h]]) {
      context.fillRect(cx * s - 3, cy * s - 3, 6, 6);
      context.strokeRect(cx * s - 3, cy * s - 3, 6, 6);
    }
  }
  context.setLineDash([]);
  context.font = '12px sans-serif';
  const width = context.measureText(caption).width + 6;
  const top = Math.max(0, box.y * s - 15);
  context.fillStyle = colour(box.label);
  context.fillRect(box.x * s, top, width, 15);
  context.fillStyle = '#ffffff';
  context.fillText(caption, box.x * s + 3, top + 11);
  context.restore();
}

function draw() {
  const canvas = $('canvas');
  const view = state.view;
  if (!view || !state.image) return;
  const s = scale();
  canvas.width = Math.round(view.width * s);
  canvas.height = Math.round(view.height * s);
  const context = canvas.getContext('2d');
  context.imageSmoothingEnabled = s < 1;
  context.drawImage(state.image, 0, 0, canvas.width, canvas.height);
  const sel = state.selected;
  state.proposals.forEach((p, i) => drawBox(context, p, s, {
    dashed: true,
    selected: sel && sel.kind === 'proposal' && sel.index === i,
    caption: `${p.label} ${formatPercent(p.confidence)}?`,
  }));
  state.boxes.forEach((b, i) => drawBox(context, b, s, {
    dashed: false,
    selected: sel && sel.kind === 'box' && sel.index === i,
    caption: b.label,
  }));
  if (state.drag && state.drag.mode === 'draw' && state.drag.box) {
    drawBox(context, { ...state.drag.box, label: state.labels[state.classIndex] }, s,
      { dashed: false, selected: true, caption: state.labels[state.classIndex] });
  }
  setText('box-count', state.boxes.length);
  setText('proposal-count', state.proposals.length);
  canvas.dataset.boxes = JSON.stringify(state.boxes);
}

function renderReason(reply) {
  const r = (reply && reply.reason) || {};
  setText('why-strategy', r.strategy || 'import order');
  setText('why-score', formatNumber(r.score));
  setText('why-model', r.model_version ? r.model_version : 'none (no detector)');
  setText('why-detector', (state.view && state.view.detector) || '–');
}

function setClass(index) {
  if (index < 0 || index >= state.labels.length) return;
  state.classIndex = index;
  setText('current-class', state.labels[index]);
  pressLabelButton(index);
}

async function display(reply) {
  $('item').setAttribute('aria-busy', 'false');
  if (reply && reply.progress) setProgress(reply.progress, 'images');
  const item = reply && reply.item;
  state.current = item ? reply : null;
  state.view = null;
  state.boxes = [];
  state.proposals = [];
  state.selected = null;
  state.history = [];
  $('empty').hidden = Boolean(item);
  $('canvas').hidden = !item;
  if (!item) {
    renderReason(reply);
    setText('item-id', null);
    setTimeout(() => { if (!state.current && !state.loading) showNext(); }, 10000);
    return;
  }
  const [view, image] = await Promise.all([
    api.get(`/items/${item.id}/detection`),
    loadImage(item.image_url),
  ]);
  if (state.current !== reply) return; // another reply arrived meanwhile
  state.view = view;
  state.image = image;
  state.proposals = (view.proposals || []).map((p) => ({ ...p }));
  if (view.previous) {
    // After an undo: the withdrawn boxes come back to be edited.
    state.boxes = view.previous.map((b) => ({ ...b }));
  }
  state.startedAt = performance.now();
  renderReason(reply);
  setText('item-id', item.id);
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
    await showNextReply(api, display, 'image');
  } finally {
    state.loading = false;
  }
}

function send(skipped = false) {
  const reply = state.current;
  if (!reply || !state.view) return;
  const annotation = skipped ? null : {
    boxes: state.boxes.map(({ x, y, w, h, label, source, confidence }) => ({
      x, y, w, h, label, source: source || 'drawn', confidence: confidence ?? null,
    })),
  };
  state.current = null;
  const seconds = Math.round(performance.now() - state.startedAt) / 1000;
  outbox.add(answerBody(reply, { labels: [], skipped, annotation }, seconds), `item ${reply.item.id}`);
  showNext();
}

// ---------------------------------------------------------------- edits

function remember() {
  state.history.push({
    boxes: state.boxes.map((b) => ({ ...b })),
    proposals: state.proposals.map((p) => ({ ...p })),
  });
}

function acceptProposal(index) {
  if (index === undefined) {
    const sel = state.selected;
    if (sel && sel.kind === 'proposal') index = sel.index;
    else if (state.proposals.length) index = 0; // proposals are sorted, most confident first
    else return;
  }
  remember();
  const [p] = state.proposals.splice(index, 1);
  state.boxes.push({ x: p.x, y: p.y, w: p.w, h: p.h, label: p.label, source: 'proposal', confidence: p.confidence });
  state.selected = { kind: 'box', index: state.boxes.length - 1 };
  draw();
}

function removeSelected() {
  const sel = state.selected;
  if (!sel) return;
  remember();
  (sel.kind === 'box' ? state.boxes : state.proposals).splice(sel.index, 1);
  state.selected = null;
  draw();
}

function classKey(index) {
  if (index >= state.labels.length) return;
  setClass(index);
  const sel = state.selected;
  if (sel && sel.kind === 'box' && state.boxes[sel.index].label !== state.labels[index]) {
    remember();
    state.boxes[sel.index].label = state.labels[index];
    draw();
  }
}

async function undo() {
  if (state.current && state.history.length) {
    const last = state.history.pop();
    state.boxes = last.boxes;
    state.proposals = last.proposals;
    state.selected = null;
    draw();
    return;
  }
  await undoLastAnswer(api, outbox, display, {
    message: (itemId) => `Undone: item ${itemId} is back with its boxes.`,
    after: () => refreshProject().catch(() => {}),
  });
}

// ---------------------------------------------------------------- mouse and keys

function pointAt(event) {
  const box = $('canvas').getBoundingClientRect();
  return {
    x: ((event.clientX - box.left) / box.width) * state.view.width,
    y: ((event.clientY - box.top) / box.height) * state.view.height,
    perPixel: box.width / state.view.width, // screen pixels per image pixel
  };
}

$('canvas').addEventListener('mousedown', (event) => {
  if (!state.current || !state.view || event.button !== 0) return;
  event.preventDefault();
  const point = pointAt(event);
  const grip = GRIP / point.perPixel;
  const onBox = hitTest(state.boxes, point.x, point.y, grip);
  if (onBox) {
    remember();
    state.selected = { kind: 'box', index: onBox.index };
    const box = state.boxes[onBox.index];
    state.drag = onBox.part === 'body'
      ? { mode: 'move', start: point, origin: { ...box }, moved: false }
      : { mode: 'resize', corner: onBox.part, moved: false };
    draw();
    return;
  }
  const onProposal = hitTest(state.proposals, point.x, point.y, 0);
  state.drag = { mode: 'draw', start: point, box: null, proposal: onProposal ? onProposal.index : null };
});

document.addEventListener('mousemove', (event) => {
  const drag = state.drag;
  if (!drag || !state.view) return;
  const point = pointAt(event);
  const { width, height } = state.view;
  if (drag.mode === 'draw') {
    const far = Math.max(Math.abs(point.x - drag.start.x), Math.abs(point.y - drag.start.y)) * point.perPixel;
    if (far >= MIN_SIDE) drag.box = boxFromCorners(drag.start.x, drag.start.y, point.x, point.y, width, height);
  } else {
    const index = state.selected.index;
    const box = state.boxes[index];
    state.boxes[index] = drag.mode === 'move'
      ? moveBox(drag.origin, point.x - drag.start.x, point.y - drag.start.y, width, height)
      : resizeBox(box, drag.corner, point.x, point.y, width, height);
    if (drag.mode === 'resize') {
      // Dragging a corner past the opposite one flips the box: follow the grabbed corner.
      const b = state.boxes[index];
      drag.corner = `${point.y <= b.y + b.h / 2 ? 'n' : 's'}${point.x <= b.x + b.w / 2 ? 'w' : 'e'}`;
    }
    drag.moved = true;
  }
  draw();
});

document.addEventListener('mouseup', () => {
  const drag = state.drag;
  state.drag = null;
  if (!drag || !state.view) return;
  if (drag.mode === 'draw') {
    if (drag.box && drag.box.w > 0 && drag.box.h > 0) {
      remember();
      state.boxes.push({ ...drag.box, label: state.labels[state.classIndex], source: 'drawn', confidence: null });
      state.selected = { kind: 'box', index: state.boxes.length - 1 };
    } else if (drag.proposal !== null) {
      acceptProposal(drag.proposal); // a click on a proposal accepts it
      return;
    } else {
      state.selected = null;
    }
  } else if (!drag.moved) {
    state.history.pop(); // a click that selected a box changed nothing
  }
  draw();
});

document.addEventListener('keydown', (event) => {
  if (event.defaultPrevented || !state.project) return;
  if (isTypingTarget(event.target)) return;
  if ((event.key === 'Enter' || event.key === ' ') && isActivatable(event.target)) return;
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  const key = event.key;
  if (/^[1-9]$/.test(key)) {
    classKey(Number(key) - 1);
  } else if (key === 'Enter') {
    send(false);
  } else if (key === 'Delete' || key === 'Backspace') {
    removeSelected();
  } else if (key === 'a' || key === 'A') {
    acceptProposal();
  } else if (key === 's' || key === 'S') {
    send(true);
  } else if (key === 'u' || key === 'U') {
    undo();
  } else if (key === 'Escape') {
    state.selected = null;
    draw();
  } else {
    return;
  }
  event.preventDefault();
});

$('submit').addEventListener('click', () => send(false));
$('accept').addEventListener('click', () => acceptProposal());
$('delete').addEventListener('click', () => removeSelected());
$('skip').addEventListener('click', () => send(true));
$('undo').addEventListener('click', () => undo());
$('reload').addEventListener('click', () => showNext());

async function start() {
  if (!(await openProject(refreshProject))) return;
  state.labels = state.project.labels || [];
  appendLabelButtons($('labels'), state.labels, {
    className: (label, index) => `label-button ent-swatch ent-${index % 9}`,
    pressed: 'false',
    onPick: (index) => classKey(index),
  });
  setClass(0);
  await showNext();
  setInterval(() => refreshProject().catch(() => {}), 15000);
}

start();
