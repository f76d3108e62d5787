// The labelling page. The item, the model's suggestion with its probabilities, label buttons
// (keys 1–9), Enter to accept, S to skip, U/Backspace to undo; a progress bar, the model
// version, the learning curve and the stopping criteria. Each answer is POSTed as it is given
// (idempotency key, seconds spent); the next item is prefetched while the annotator reads.

import {
  ApiError, el, formatNumber, formatPercent, handleAuthError, pageApi, setText, showMe, toast,
} from './common.js';
import { drawCurve } from './curve.js';
import { isActivatable, isTypingTarget, keyAction } from './keys.js';
import {
  ModelVersion, answerBody, answerOutbox, openProject, renderStopping, setProgress,
  showNextReply,
} from './page.js';

const api = pageApi();
const $ = (id) => document.getElementById(id);

const state = {
  project: null,
  labels: [],
  multiLabel: false,
  current: null, // a /next reply whose item is on screen, plus timing
  upcoming: [], // prefetched /next replies (leased to us), shown before asking again
  selected: new Set(), // multi-label: the toggled labels
  prefetching: null,
  noPrefetch: false, // the server hands back our open lease instead of a new item
  loading: false,
  undoing: false,
  refreshTimer: null,
  refreshing: false,
};

// ---------------------------------------------------------------- time spent on an item

function startClock(entry) {
  entry.spentMs = 0;
  entry.visibleSince = document.hidden ? null : performance.now();
}

function secondsSpent(entry) {
  let ms = entry.spentMs;
  if (entry.visibleSince !== null) ms += performance.now() - entry.visibleSince;
  return Math.round(ms) / 1000;
}

document.addEventListener('visibilitychange', () => {
  const entry = state.current;
  if (!entry) return;
  if (document.hidden && entry.visibleSince !== null) {
    entry.spentMs += performance.now() - entry.visibleSince;
    entry.visibleSince = null;
  } else if (!document.hidden && entry.visibleSince === null) {
    entry.visibleSince = performance.now();
  }
});

// ---------------------------------------------------------------- answers on their way

const outbox = answerOutbox(api, { onSent: () => refreshProjectSoon() });

// ---------------------------------------------------------------- the project panel

const modelVersion = new ModelVersion();

function setModelVersion(version) {
  if (version === undefined || version === null) return;
  modelVersion.update(version);
}

function renderProject(project) {
  state.project = project;
  showMe(project.me);
  setModelVersion(project.model_version);
  setProgress({ labelled: project.n_labeled, budget: project.budget });
  renderStopping(project.stopping, 'none configured');
  drawCurve($('curve'), project.curve || []);
}

async function refreshProject() {
  renderProject(await api.get(''));
}

function refreshProjectSoon() {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(async () => {
    state.refreshTimer = null;
    if (state.refreshing) return;
    state.refreshing = true;
    try {
      await refreshProject();
    } catch (error) {
      if (!handleAuthError(error)) console.warn('project refresh failed', error);
    } finally {
      state.refreshing = false;
    }
  }, 400);
}

// ---------------------------------------------------------------- labels and the item

function buildLabelButtons() {
  const group = $('labels');
  group.replaceChildren();
  state.labels.forEach((label, index) => {
    const key = index < 9 ? String(index + 1) : null;
    const button = el('button', {
      type: 'button',
      class: 'label-button',
      dataset: { index: String(index) },
      'aria-keyshortcuts': key,
      'aria-pressed': state.multiLabel ? 'false' : null,
    }, key ? el('kbd', {}, key) : null, el('span', {}, label));
    button.addEventListener('click', () => perform({ type: state.multiLabel ? 'toggle' : 'label', index }));
    group.append(button);
  });
  $('accept').hidden = state.multiLabel;
  $('submit').hidden = !state.multiLabel;
  setText('keys-labels', state.multiLabel ? 'toggle a label' : 'choose a label');
  setText('keys-enter', state.multiLabel ? 'submit the chosen labels (none chosen: none applies)' : 'accept the suggestion');
}

function suggestedLabels(suggestion) {
  if (!suggestion) return [];
  if (Array.isArray(suggestion.labels)) return suggestion.labels;
  if (Array.isArray(suggestion.label)) return suggestion.label;
  if (state.multiLabel && suggestion.probabilities) {
    return state.labels.filter((l) => Number(suggestion.probabilities[l]) >= 0.5);
  }
  return suggestion.label === undefined || suggestion.label === null ? [] : [suggestion.label];
}

function renderSelection() {
  for (const button of $('labels').children) {
    const label = state.labels[Number(button.dataset.index)];
    if (state.multiLabel) button.setAttribute('aria-pressed', String(state.selected.has(label)));
  }
}

function renderSuggestion(suggestion) {
  const has = Boolean(suggestion && suggestion.probabilities);
  $('suggestion-none').hidden = has;
  $('suggestion-main').hidden = !has;
  const list = $('probabilities');
  list.replaceChildren();
  const section = list.closest('section');
  section.classList.toggle('unsure', has && Number(suggestion.confidence) < 0.6);
  const suggested = new Set(suggestedLabels(suggestion));
  for (const button of $('labels').children) {
    button.classList.toggle('suggested', suggested.has(state.labels[Number(button.dataset.index)]));
  }
  if (!has) return;
  setText('suggested-label', suggested.size ? [...suggested].join(', ') : 'none');
  setText('confidence', formatPercent(suggestion.confidence));
  const names = [...state.labels, ...Object.keys(suggestion.probabilities).filter((l) => !state.labels.includes(l))];
  for (const label of names) {
    if (!(label in suggestion.probabilities)) continue;
    const p = Number(suggestion.probabilities[label]);
    const fill = el('span', { class: 'bar-fill' });
    fill.style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
    list.append(el('li', { class: suggested.has(label) ? 'bar suggested' : 'bar' },
      el('span', { class: 'bar-label' }, label),
      el('span', { class: 'bar-track', 'aria-hidden': 'true' }, fill),
      el('span', { class: 'bar-value' }, formatPercent(p))));
  }
}

/** The LLM labeller's suggestion (suggest mode), shown apart from the model's. */
function renderLLMSuggestion(suggestion) {
  const has = Boolean(suggestion && suggestion.label);
  $('llm-suggestion').hidden = !has;
  for (const button of $('labels').children) {
    button.classList.toggle('llm-suggested', has && state.labels[Number(button.dataset.index)] === suggestion.label);
  }
  if (!has) return;
  setText('llm-suggested-label', suggestion.label);
  setText('llm-confidence', suggestion.confidence === null || suggestion.confidence === undefined
    ? 'unknown' : formatPercent(suggestion.confidence));
  setText('llm-model', suggestion.model);
}

/** What Enter accepts: the LLM's label when there is one, else the model's. */
function acceptedLabels(reply) {
  if (!state.multiLabel && reply.llm_suggestion && reply.llm_suggestion.label) return [reply.llm_suggestion.label];
  return suggestedLabels(reply.suggestion);
}

function renderReason(reason) {
  const r = reason || {};
  setText('why-strategy', r.strategy);
  setText('why-score', formatNumber(r.score));
  setText('why-probability', formatNumber(r.probability));
  setText('why-model', r.model_version === null || r.model_version === undefined ? 'cold start (no model yet)' : r.model_version);
}

function display(reply) {
  const item = reply && reply.item;
  const article = $('item');
  article.setAttribute('aria-busy', 'false');
  if (reply && reply.progress) setProgress(reply.progress);
  if (!item) {
    state.current = null;
    $('item-text').textContent = '';
    $('item-image').hidden = true;
    $('empty').hidden = false;
    setText('item-id', null);
    renderSuggestion(null);
    renderLLMSuggestion(null);
    renderReason(null);
    document.body.classList.add('no-item');
    scheduleLookAgain();
    return;
  }
  document.body.classList.remove('no-item');
  $('empty').hidden = true;
  state.current = reply;
  startClock(reply);
  setText('item-id', item.id);
  const text = $('item-text');
  const image = $('item-image');
  if (item.image_url) {
    text.textContent = item.text || '';
    image.src = item.image_url;
    image.alt = `item ${item.id}`;
    image.hidden = false;
  } else {
    image.hidden = true;
    image.removeAttribute('src');
    text.textContent = item.text === undefined || item.text === null ? '' : String(item.text);
  }
  state.selected = new Set(state.multiLabel ? suggestedLabels(reply.suggestion) : []);
  renderSuggestion(reply.suggestion);
  renderLLMSuggestion(reply.llm_suggestion);
  renderSelection();
  renderReason(reply.reason);
  if (reply.reason && reply.reason.model_version !== null && reply.reason.model_version !== undefined &&
      (modelVersion.version === null || reply.reason.model_version > modelVersion.version)) {
    setModelVersion(reply.reason.model_version);
  }
  if (!isTypingTarget(document.activeElement)) article.focus({ preventScroll: true });
}

let lookAgainTimer = null;
function scheduleLookAgain() {
  clearTimeout(lookAgainTimer);
  lookAgainTimer = setTimeout(() => {
    if (!state.current && !state.loading) showNext();
  }, 10000);
}

// ---------------------------------------------------------------- asking for items

async function prefetch() {
  try {
    await outbox.drain(); // the server must know the last answer before it picks the next item
    if (!state.current || state.upcoming.length) return;
    const reply = await api.post('/next');
    if (!reply || !reply.item) return;
    const onScreen = state.current && state.current.item;
    if (onScreen && reply.item.id === onScreen.id) {
      state.noPrefetch = true; // the server gives back our open lease: ask after answering
      return;
    }
    if (state.upcoming.some((r) => r.item.id === reply.item.id)) return;
    state.upcoming.push(reply);
  } catch (error) {
    console.warn('prefetch failed; the next item is fetched after this answer', error);
  }
}

function prefetchSoon() {
  if (state.noPrefetch || state.prefetching || state.upcoming.length || !state.current) return;
  state.prefetching = prefetch().finally(() => {
    state.prefetching = null;
  });
}

async function showNext() {
  if (state.prefetching) await state.prefetching;
  if (state.upcoming.length) {
    display(state.upcoming.shift());
    prefetchSoon();
    return;
  }
  state.loading = true;
  $('item').setAttribute('aria-busy', 'true');
  try {
    await outbox.drain();
    if (!(await showNextReply(api, display, 'item', { warn: true }))) return;
  } finally {
    state.loading = false;
  }
  prefetchSoon();
}

// ---------------------------------------------------------------- answering

function answer(labels, skipped) {
  const reply = state.current;
  if (!reply || !reply.item || state.undoing) return;
  state.current = null;
  outbox.add(answerBody(reply, { labels, skipped }, secondsSpent(reply)), `item ${reply.item.id}`);
  showNext();
}

async function undo() {
  if (state.undoing) return;
  state.undoing = true;
  try {
    await outbox.drain(); // the last answer must be on the server before it can be withdrawn
    if (state.prefetching) await state.prefetching;
    const reply = await api.post('/undo');
    if (!reply || !reply.item) {
      toast('Nothing to undo.', 'info');
      return;
    }
    if (state.current && state.current.item && state.current.item.id !== reply.item.id) {
      state.upcoming.unshift(state.current);
    }
    state.upcoming = state.upcoming.filter((r) => r.item.id !== reply.item.id);
    display(reply);
    toast(`Undone: item ${reply.item.id} is back.`, 'info');
    refreshProjectSoon();
  } catch (error) {
    if (handleAuthError(error)) return;
    toast(error instanceof ApiError && error.status === 404 ? 'Nothing to undo.' : `Undo failed: ${error.message}`,
      error instanceof ApiError && error.status === 404 ? 'info' : 'error');
  } finally {
    state.undoing = false;
  }
}

function perform(action) {
  if (action.type === 'undo') {
    undo();
    return;
  }
  const reply = state.current;
  if (!reply || !reply.item) return;
  if (action.type === 'label') {
    answer([state.labels[action.index]], false);
  } else if (action.type === 'toggle') {
    const label = state.labels[action.index];
    if (state.selected.has(label)) state.selected.delete(label);
    else state.selected.add(label);
    renderSelection();
  } else if (action.type === 'accept') {
    const labels = acceptedLabels(reply);
    if (labels.length) answer(labels, false);
    else toast('No suggestion yet: choose a label with 1–9.', 'info');
  } else if (action.type === 'submit') {
    // An empty set is an answer too: none of the labels applies (S skips instead).
    answer(state.labels.filter((l) => state.selected.has(l)), false);
  } else if (action.type === 'skip') {
    answer([], true);
  }
}

document.addEventListener('keydown', (event) => {
  if (event.defaultPrevented || event.repeat || !state.project) return;
  if (isTypingTarget(event.target)) return;
  if ((event.key === 'Enter' || event.key === ' ') && isActivatable(event.target)) return;
  const action = keyAction(event, { labelCount: state.labels.length, multiLabel: state.multiLabel });
  if (!action) return;
  event.preventDefault();
  perform(action);
});

$('accept').addEventListener('click', () => perform({ type: 'accept' }));
$('submit').addEventListener('click', () => perform({ type: 'submit' }));
$('skip').addEventListener('click', () => perform({ type: 'skip' }));
$('undo').addEventListener('click', () => perform({ type: 'undo' }));
$('reload').addEventListener('click', () => showNext());

// ---------------------------------------------------------------- start

async function start() {
  if (!(await openProject(refreshProject))) return;
  state.labels = state.project.labels || [];
  state.multiLabel = Boolean(state.project.multi_label);
  document.body.classList.toggle('multi-label', state.multiLabel);
  buildLabelButtons();
  await showNext();
  setInterval(() => refreshProjectSoon(), 15000);
}

start();
