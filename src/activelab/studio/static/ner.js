// The span-labelling page of NER projects. The sentence's tokens (as text, never HTML) with
// the model's entities drawn under them and their confidence; a span is selected with the
// mouse (drag) or the keyboard (arrows move, Shift extends) and given a type with 1–9;
// Backspace/Delete removes the span under the cursor. Two modes: full correction (Enter
// submits the sentence, or the highlighted part a sub-sequence query asks about) and
// accept/reject (the model's entities one at a time: A/Enter accepts, X rejects, as
// Prodigy's ner.teach). Answers go through the same outbox as the other pages
// (idempotency key, retries); U undoes; the next sentence comes without a page reload.

import { el, formatNumber, formatPercent, pageApi, setText, showMe, toast } from './common.js';
import { drawCurve } from './curve.js';
import { isActivatable, isTypingTarget, nerKeyAction, removeSpanAt, setSpan } from './keys.js';
import {
  ModelVersion, answerBody, answerOutbox, appendLabelButtons, openProject, renderStopping,
  setProgress, showNextReply, undoLastAnswer,
} from './page.js';

const api = pageApi();
const $ = (id) => document.getElementById(id);

const state = {
  project: null,
  labels: [],
  mode: 'correct', // or 'teach'
  current: null, // the /next reply on screen
  tokens: [],
  range: [0, 0], // tokens asked about [start, end)
  spans: [], // the annotator's spans {start, end, label}
  modelSpans: [], // the model's entities outside the range (shown, not sent)
  cursor: 0,
  anchor: null,
  dragging: false,
  proposals: [], // teach mode: the model's entities, in order
  decisions: [], // teach mode: {start, end, label, accept}
  loading: false,
  startedAt: 0,
};

// ---------------------------------------------------------------- answers and the project

const outbox = answerOutbox(api, { onSent: () => refreshProject().catch(() => {}) });
const modelVersion = new ModelVersion();

function renderProject(project) {
  state.project = project;
  showMe(project.me);
  modelVersion.update(project.model_version);
  setProgress({ labelled: project.n_labeled, budget: project.budget });
  renderStopping(project.stopping, 'none yet');
  drawCurve($('curve'), project.curve || []);
}

async function refreshProject() {
  renderProject(await api.get(''));
}

// ---------------------------------------------------------------- drawing the sentence

function labelClass(label) {
  const index = state.labels.indexOf(label);
  return `ent-${(index < 0 ? 8 : index) % 9}`;
}

function selection() {
  const a = state.anchor === null ? state.cursor : state.anchor;
  return [Math.min(a, state.cursor), Math.max(a, state.cursor) + 1];
}

function proposal() {
  return state.mode === 'teach' ? state.proposals[state.decisions.length] || null : null;
}

function render() {
  const box = $('tokens');
  box.replaceChildren();
  if (!state.current) return;
  const [low, high] = state.range;
  const asked = state.current.suggestion && state.current.suggestion.query;
  const [selStart, selEnd] = selection();
  const shown = state.mode === 'teach' ? state.decisions.filter((d) => d.accept) : state.spans;
  const spanOf = new Map();
  for (const s of shown) for (let t = s.start; t < s.end; t += 1) spanOf.set(t, { ...s, model: false });
  for (const s of state.modelSpans) {
    for (let t = s.start; t < s.end; t += 1) if (!spanOf.has(t)) spanOf.set(t, { ...s, model: true });
  }
  const current = proposal();
  state.tokens.forEach((token, i) => {
    const span = spanOf.get(i);
    const classes = ['tok'];
    if (i < low || i >= high) classes.push('outside');
    if (asked && i >= low && i < high) classes.push('asked');
    if (state.mode === 'correct' && i === state.cursor) classes.push('cursor');
    if (state.mode === 'correct' && state.anchor !== null && i >= selStart && i < selEnd) classes.push('selected');
    if (span) classes.push('ent', labelClass(span.label), span.model ? 'model' : 'human');
    if (current && i >= current.start && i < current.end) classes.push('proposal', labelClass(current.label));
    const node = el('span', { class: classes.join(' '), dataset: { i: String(i) } }, token);
    box.append(node);
    if (span && i === span.end - 1) {
      const confidence = span.confidence === undefined ? '' : ` ${formatPercent(span.confidence)}`;
      box.append(el('span', { class: `ent-tag ${labelClass(span.label)}` }, `${span.label}${confidence}`));
    }
    if (i < state.tokens.length - 1) box.append(document.createTextNode(' '));
  });
  renderProposal();
}

function renderProposal() {
  const teach = state.mode === 'teach';
  $('submit').hidden = teach;
  $('accept').hidden = !teach;
  $('reject').hidden = !teach;
  $('mode-correct').setAttribute('aria-checked', String(!teach));
  $('mode-teach').setAttribute('aria-checked', String(teach));
  const panel = $('proposal');
  panel.hidden = !teach || !state.current;
  if (panel.hidden) return;
  const current = proposal();
  if (!current) {
    setText('proposal-text', 'no entity');
    setText('proposal-label', '—');
    setText('proposal-confidence', '');
    setText('proposal-count', '(A: there is none, X: correct it)');
    return;
  }
  setText('proposal-text', state.tokens.slice(current.start, current.end).join(' '));
  setText('proposal-label', current.label);
  setText('proposal-confidence', formatPercent(current.confidence));
  setText('proposal-count', `(${state.decisions.length + 1} of ${state.proposals.length})`);
}

function renderReason(reason) {
  const r = reason || {};
  setText('why-strategy', r.strategy);
  setText('why-score', formatNumber(r.score));
  setText('why-probability', formatNumber(r.probability));
  setText('why-model', r.model_version ? r.model_version : 'cold start (no model yet)');
}

function display(reply) {
  $('item').setAttribute('aria-busy', 'false');
  if (reply && reply.progress) setProgress(reply.progress);
  const item = reply && reply.item;
  state.current = item ? reply : null;
  $('empty').hidden = Boolean(item);
  if (!item) {
    setText('item-id', null);
    $('query-note').hidden = true;
    renderReason(null);
    render();
    renderProposal();
    setTimeout(() => { if (!state.current && !state.loading) showNext(); }, 10000);
    return;
  }
  state.tokens = item.tokens || String(item.text).split(/\s+/).filter(Boolean);
  const suggestion = reply.suggestion || null;
  const entities = (suggestion && suggestion.entities) || [];
  const query = suggestion && suggestion.query;
  state.range = query ? [query.start, query.end] : [0, state.tokens.length];
  const [low, high] = state.range;
  const inside = (s) => s.start >= low && s.end <= high;
  state.spans = entities.filter(inside).map((s) => ({ ...s }));
  state.modelSpans = entities.filter((s) => !inside(s));
  state.proposals = entities;
  state.decisions = [];
  state.cursor = low;
  state.anchor = null;
  state.startedAt = performance.now();
  setText('item-id', item.id);
  $('query-note').hidden = !query;
  renderReason(reply.reason);
  if (state.mode === 'teach' && !suggestion) toast('No model yet: correct this sentence in full.', 'info');
  render();
  if (!isTypingTarget(document.activeElement)) $('item').focus({ preventScroll: true });
}

// ---------------------------------------------------------------- the queue

async function showNext() {
  state.loading = true;
  $('item').setAttribute('aria-busy', 'true');
  try {
    await outbox.drain(); // the server must have the last answer before it picks the next item
    await showNextReply(api, display, 'sentence');
  } finally {
    state.loading = false;
  }
}

function send(annotation, skipped = false) {
  const reply = state.current;
  if (!reply) return;
  state.current = null;
  const seconds = Math.round(performance.now() - state.startedAt) / 1000;
  const fields = { labels: [], skipped, annotation: skipped ? null : annotation };
  outbox.add(answerBody(reply, fields, seconds), `item ${reply.item.id}`);
  showNext();
}

async function undo() {
  if (state.mode === 'teach' && state.current && state.decisions.length) {
    state.decisions.pop(); // first undo the last decision on this sentence
    render();
    return;
  }
  await undoLastAnswer(api, outbox, display, { after: () => refreshProject().catch(() => {}) });
}

// ---------------------------------------------------------------- actions

function clamp(i) {
  return Math.max(state.range[0], Math.min(state.range[1] - 1, i));
}

function decide(accept) {
  const current = proposal();
  if (!current) {
    // The model proposed nothing: A agrees (no entity at all), X switches to correction.
    if (accept) send({ mode: 'correct', range: [0, state.tokens.length], spans: [] });
    else setMode('correct');
    return;
  }
  state.decisions.push({ start: current.start, end: current.end, label: current.label, accept });
  if (state.decisions.length >= state.proposals.length) {
    send({ mode: 'teach', decisions: state.decisions });
  } else {
    render();
  }
}

function setMode(mode) {
  state.mode = mode;
  state.decisions = [];
  document.body.dataset.mode = mode;
  if (state.current && mode === 'teach' && !state.current.suggestion) {
    toast('No model yet: accept/reject starts once the first model proposes entities.', 'info');
    state.mode = 'correct';
    document.body.dataset.mode = 'correct';
  }
  render();
}

function perform(action) {
  if (action.type === 'undo') return undo();
  if (action.type === 'mode') return setMode(state.mode === 'teach' ? 'correct' : 'teach');
  if (!state.current) return undefined;
  if (action.type === 'skip') return send(null, true);
  if (state.mode === 'teach') {
    if (action.type === 'accept' || action.type === 'reject') decide(action.type === 'accept');
    return undefined;
  }
  if (action.type === 'move' || action.type === 'jump') {
    if (action.extend && state.anchor === null) state.anchor = state.cursor;
    if (!action.extend) state.anchor = null;
    state.cursor = action.type === 'move'
      ? clamp(state.cursor + action.delta)
      : clamp(action.to === 'first' ? 0 : state.tokens.length - 1);
  } else if (action.type === 'label') {
    const [start, end] = selection();
    state.spans = setSpan(state.spans, clamp(start), clamp(end - 1) + 1, state.labels[action.index]);
    state.anchor = null;
  } else if (action.type === 'remove') {
    state.spans = removeSpanAt(state.spans, state.cursor);
  } else if (action.type === 'clear') {
    state.anchor = null;
  } else if (action.type === 'submit') {
    return send({ mode: 'correct', range: state.range, spans: state.spans.map(({ start, end, label }) => ({ start, end, label })) });
  }
  render();
  return undefined;
}

document.addEventListener('keydown', (event) => {
  if (event.defaultPrevented || !state.project) return;
  if (isTypingTarget(event.target)) return;
  if ((event.key === 'Enter' || event.key === ' ') && isActivatable(event.target)) return;
  const action = nerKeyAction(event, { labelCount: state.labels.length, mode: state.mode });
  if (!action) return;
  if (event.repeat && !['move', 'jump'].includes(action.type)) return;
  event.preventDefault();
  perform(action);
});

// Mouse: press on a token, drag over others, release: that stretch is the selection.
$('tokens').addEventListener('mousedown', (event) => {
  const token = event.target.closest('.tok');
  if (!token || state.mode !== 'correct') return;
  event.preventDefault();
  state.cursor = clamp(Number(token.dataset.i));
  state.anchor = state.cursor;
  state.dragging = true;
  render();
  $('item').focus({ preventScroll: true });
});
$('tokens').addEventListener('mouseover', (event) => {
  const token = event.target.closest('.tok');
  if (!token || !state.dragging) return;
  state.cursor = clamp(Number(token.dataset.i));
  render();
});
document.addEventListener('mouseup', () => { state.dragging = false; });

$('submit').addEventListener('click', () => perform({ type: 'submit' }));
$('accept').addEventListener('click', () => perform({ type: 'accept' }));
$('reject').addEventListener('click', () => perform({ type: 'reject' }));
$('skip').addEventListener('click', () => perform({ type: 'skip' }));
$('undo').addEventListener('click', () => perform({ type: 'undo' }));
$('reload').addEventListener('click', () => showNext());
$('mode-correct').addEventListener('click', () => setMode('correct'));
$('mode-teach').addEventListener('click', () => setMode('teach'));

async function start() {
  if (!(await openProject(refreshProject))) return;
  state.labels = state.project.labels || [];
  appendLabelButtons($('labels'), state.labels, {
    className: (label) => `label-button ent-swatch ${labelClass(label)}`,
    onPick: (index) => perform({ type: 'label', index }),
  });
  document.body.dataset.mode = state.mode;
  await showNext();
  setInterval(() => refreshProject().catch(() => {}), 15000);
}

start();
