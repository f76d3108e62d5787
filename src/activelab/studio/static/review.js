// The review page (admin): answers filtered by annotator or item, with label correction.

import { el, formatNumber, formatTime, handleAuthError, pageApi, rowsOf, setText, showMe, toast } from './common.js';

const api = pageApi();
const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 50;

const state = { project: null, offset: 0, rows: [] };

/** First present field among `names` (the API's answer rows name some fields two ways). */
function field(row, ...names) {
  for (const name of names) if (row[name] !== undefined && row[name] !== null) return row[name];
  return null;
}

function labelsOf(row) {
  const labels = field(row, 'labels', 'label');
  if (labels === null) return [];
  return Array.isArray(labels) ? labels : [labels];
}

function correctionControl(row) {
  const id = field(row, 'id', 'answer_id');
  const current = new Set(labelsOf(row));
  const status = el('span', { class: 'muted', role: 'status' });
  let read;
  let control;
  if (state.project.multi_label) {
    const boxes = state.project.labels.map((label) => {
      const box = el('input', { type: 'checkbox', value: label, checked: current.has(label) });
      return { box, node: el('label', { class: 'check' }, box, ` ${label}`) };
    });
    control = el('fieldset', { class: 'inline' },
      el('legend', { class: 'visually-hidden' }, `Labels for answer ${id}`), boxes.map((b) => b.node));
    read = () => boxes.filter((b) => b.box.checked).map((b) => b.box.value);
  } else {
    const select = el('select', { 'aria-label': `Label for answer ${id}` },
      state.project.labels.map((label) => el('option', { value: label, selected: current.has(label) }, label)));
    control = select;
    read = () => [select.value];
  }
  const save = el('button', { type: 'button' }, 'Save');
  save.addEventListener('click', async () => {
    save.disabled = true;
    status.textContent = 'saving…';
    try {
      const updated = await api.put(`/answers/${encodeURIComponent(id)}`, { labels: read() });
      status.textContent = 'saved';
      const labels = updated && labelsOf(updated).length ? labelsOf(updated) : read();
      save.closest('tr').querySelector('.labels').textContent = labels.join(', ');
      toast(`Answer ${id} corrected to ${labels.join(', ')}.`, 'ok');
    } catch (error) {
      status.textContent = '';
      if (!handleAuthError(error)) toast(`Could not correct answer ${id}: ${error.message}`, 'error');
    } finally {
      save.disabled = false;
    }
  });
  return el('div', { class: 'correct' }, control, save, status);
}

function renderRows(rows) {
  const body = $('answer-rows');
  body.replaceChildren();
  if (!rows.length) {
    body.append(el('tr', {}, el('td', { colspan: 8, class: 'muted' }, 'No answers match.')));
  }
  for (const row of rows) {
    const skipped = Boolean(field(row, 'skipped'));
    const withdrawn = Boolean(field(row, 'withdrawn'));
    const item = field(row, 'item_id', 'item');
    const nested = row.item && typeof row.item === 'object' ? row.item : {};
    const text = field(row, 'text', 'item_text') ?? nested.text ?? (nested.image_url ? '(image)' : null);
    const original = field(row, 'original_labels');
    const labels = labelsOf(row);
    const machine = row.machine && typeof row.machine === 'object' ? row.machine : null;
    body.append(el('tr', { class: withdrawn ? 'withdrawn' : '' },
      el('td', {}, field(row, 'id', 'answer_id')),
      el('td', {}, typeof item === 'object' && item ? item.id : item),
      el('td', { class: 'text-cell' }, text === null ? '' : String(text)),
      el('td', {}, field(row, 'annotator', 'annotator_name')),
      el('td', {},
        el('span', { class: 'labels' }, skipped ? 'skipped' : labels.join(', ')),
        withdrawn ? ' (withdrawn)' : '',
        Array.isArray(original) ? el('span', { class: 'muted' }, ` (was ${original.join(', ')})`) : '',
        machine ? el('span', { class: 'muted' }, ` (machine label, confidence ${formatNumber(machine.confidence)})`) : ''),
      el('td', {}, formatNumber(field(row, 'seconds'), 1)),
      el('td', { class: 'nowrap' }, formatTime(field(row, 'created_at', 'at', 'timestamp'))),
      el('td', {}, skipped || withdrawn ? '' : correctionControl(row))));
  }
}

async function load() {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(state.offset) });
  const annotator = $('filter-annotator').value;
  const item = $('filter-item').value.trim();
  if (annotator) params.set('annotator', annotator);
  if (item) params.set('item', item);
  try {
    const { rows, total } = await api.getPage(`/answers?${params}`, 'answers', 'items');
    state.rows = rows;
    renderRows(state.rows);
    const first = state.rows.length ? state.offset + 1 : 0;
    setText('page-info', `${first}–${state.offset + state.rows.length}${total === null ? '' : ` of ${total}`}`);
    setText('review-summary', `${state.rows.length} answers shown${annotator ? ` by ${annotator}` : ''}.`);
    $('prev-page').disabled = state.offset === 0;
    $('next-page').disabled = total === null ? state.rows.length < PAGE_SIZE : state.offset + PAGE_SIZE >= total;
  } catch (error) {
    if (!handleAuthError(error)) toast(`Could not load answers: ${error.message}`, 'error');
  }
}

async function start() {
  try {
    state.project = await api.get('');
  } catch (error) {
    if (!handleAuthError(error)) toast(`Could not open the project: ${error.message}`, 'error');
    return;
  }
  showMe(state.project.me);
  if (state.project.me && state.project.me.role !== 'admin') {
    $('main').replaceChildren(el('section', { class: 'panel refusal', role: 'alert' },
      el('h1', {}, 'Admins only'), el('p', {}, 'The review page is for the project admin.')));
    return;
  }
  try {
    const people = rowsOf(await api.get('/annotators'), 'annotators', 'items');
    const select = $('filter-annotator');
    for (const person of people) select.append(el('option', { value: person.name }, person.name));
  } catch (error) {
    if (handleAuthError(error)) return;
  }
  $('filters').addEventListener('submit', (event) => {
    event.preventDefault();
    state.offset = 0;
    load();
  });
  $('prev-page').addEventListener('click', () => {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    load();
  });
  $('next-page').addEventListener('click', () => {
    state.offset += PAGE_SIZE;
    load();
  });
  await load();
}

start();
