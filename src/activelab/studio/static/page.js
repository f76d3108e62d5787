// The machinery the four labelling pages (label, ner, segmentation, detection) share: the
// outbox of answers with its sync pill and refusals, the leave-page guard, the progress bar,
// the model version pill, the stopping table, asking for the next item with retries, undoing
// the last answer on the server, the label buttons and loading an item's image. Every
// element it touches has the same id on the four pages.

import { ApiError, el, formatNumber, handleAuthError, toast, uuid4 } from './common.js';
import { Outbox } from './outbox.js';

const $ = (id) => document.getElementById(id);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- answers on their way

/**
 * Show the outbox's state in #sync and its refused answers in #failures (each with Send
 * again and Dismiss); #sync says how many were refused, and a retry that fails with 401
 * (the session expired) opens the sign-in panel.
 */
export function renderSync(box) {
  const sync = $('sync');
  sync.classList.remove('warn', 'error');
  if (box.retrying) {
    sync.textContent = `${box.pending} unsent — retrying (${box.retrying.error.message})`;
    sync.classList.add('warn');
  } else if (box.pending) {
    sync.textContent = `saving ${box.pending} answer${box.pending > 1 ? 's' : ''}…`;
  } else {
    sync.textContent = 'all answers saved';
  }
  if (box.retrying && box.retrying.error.status === 401) {
    handleAuthError(box.retrying.error);
  }
  const failures = $('failures');
  failures.replaceChildren();
  failures.hidden = box.failed.length === 0;
  if (box.failed.length) {
    sync.textContent = `${box.failed.length} answer${box.failed.length > 1 ? 's' : ''} refused`;
    sync.classList.add('error');
  }
  for (const entry of box.failed) {
    failures.append(el('p', {},
      `The server refused your answer to ${entry.label}: ${entry.error.message}. `,
      el('button', { type: 'button', onclick: () => box.retry(entry) }, 'Send again'),
      ' ',
      el('button', { type: 'button', onclick: () => box.dismiss(entry) }, 'Dismiss')));
  }
}

/**
 * The page's outbox: answers are POSTed to `/answers`, #sync and #failures follow it (see
 * `renderSync`), and leaving the page while answers are unsent asks first.
 */
export function answerOutbox(api, { onSent = () => {} } = {}) {
  const outbox = new Outbox((body) => api.post('/answers', body), {
    onChange: renderSync,
    onSent,
  });
  window.addEventListener('beforeunload', (event) => {
    if (outbox.pending) {
      event.preventDefault();
      event.returnValue = '';
    }
  });
  return outbox;
}

/**
 * The body of an answer to `reply` (its item and lease): `fields` (labels, skipped,
 * annotation), the `seconds` spent and a fresh idempotency key.
 */
export function answerBody(reply, fields, seconds) {
  return {
    item_id: reply.item.id,
    lease_id: reply.lease ? reply.lease.id : null,
    ...fields,
    seconds,
    idempotency_key: uuid4(),
  };
}

// ---------------------------------------------------------------- the project panel

/**
 * Fill the progress bar: `labelled` of `budget` (no budget: a count), with `unit` after the
 * numbers ('labelled', 'images', 'regions').
 */
export function setProgress(progress, unit = 'labelled') {
  if (!progress || progress.labelled === undefined || progress.labelled === null) return;
  const { labelled } = progress;
  const total = progress.budget || 0;
  const bar = $('progress');
  bar.setAttribute('aria-valuenow', String(labelled));
  bar.setAttribute('aria-valuemax', String(total));
  bar.setAttribute('aria-valuetext',
    total ? `${labelled} of ${total} ${unit}` : `${labelled} ${unit}`);
  $('progress-fill').style.width = total ? `${Math.min(100, (100 * labelled) / total)}%` : '0%';
  $('progress-text').textContent = total ? `${labelled} / ${total} ${unit}` : `${labelled} ${unit}`;
}

/**
 * The #model-version pill. `update` shows a version (as `shown`, by default the version
 * itself) and toasts `message(version)` when it differs from the last one seen.
 */
export class ModelVersion {
  constructor(message = (version) => `The model was retrained: version ${version}`) {
    this.message = message;
    this.version = null;
  }

  update(version, shown = String(version)) {
    if (this.version !== null && version !== this.version) toast(this.message(version), 'ok');
    this.version = version;
    $('model-version').textContent = shown;
  }
}

/** Fill the stopping criteria table; `empty` is its text when there are none. */
export function renderStopping(criteria, empty) {
  const rows = $('stopping-rows');
  rows.replaceChildren();
  if (!criteria || !criteria.length) {
    rows.append(el('tr', {}, el('td', { colspan: 4, class: 'muted' }, empty)));
    return;
  }
  for (const c of criteria) {
    rows.append(el('tr', { class: c.stop ? 'says-stop' : '', title: c.description || '' },
      el('th', { scope: 'row' }, String(c.name).replaceAll('_', ' ')),
      el('td', {}, formatNumber(c.value)),
      el('td', {}, formatNumber(c.threshold)),
      el('td', {}, c.stop ? 'stop' : 'go on')));
  }
}

/** Load the project with `refresh`; false (after saying why) when it cannot be opened. */
export async function openProject(refresh) {
  try {
    await refresh();
    return true;
  } catch (error) {
    if (!handleAuthError(error)) toast(`Could not open the project: ${error.message}`, 'error');
    return false;
  }
}

// ---------------------------------------------------------------- the queue

/**
 * Ask the server for the next item and `show` the reply, trying again with back-off while
 * the server cannot be reached; `noun` names the item in messages ('item', 'image', ...),
 * `warn` toasts each retry. Resolves to true when a reply was shown, false otherwise (after
 * `show(null)` when the server failed for good).
 */
export async function showNextReply(api, show, noun, { warn = false } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await show(await api.post('/next'));
      return true;
    } catch (error) {
      if (handleAuthError(error)) return false;
      if (!(error instanceof ApiError) || !error.transient || attempt >= 5) {
        toast(`Could not get the next ${noun}: ${error.message}`, 'error');
        await show(null);
        return false;
      }
      if (warn) toast(`Could not get the next ${noun} (${error.message}); trying again…`, 'warn');
      await sleep(500 * 2 ** attempt);
    }
  }
}

/**
 * Withdraw the last answer on the server (once the outbox is empty) and `show` its item
 * again; `message(itemId)` is the toast that says so, `after` runs on success. A 404 means
 * there was nothing to undo.
 */
export async function undoLastAnswer(api, outbox, show, {
  message = (itemId) => `Undone: item ${itemId} is back.`, after = () => {},
} = {}) {
  try {
    await outbox.drain();
    const reply = await api.post('/undo');
    await show(reply);
    toast(message(reply.item.id), 'info');
    after();
  } catch (error) {
    if (handleAuthError(error)) return;
    const none = error instanceof ApiError && error.status === 404;
    toast(none ? 'Nothing to undo.' : `Undo failed: ${error.message}`, none ? 'info' : 'error');
  }
}

// ---------------------------------------------------------------- labels and images

/**
 * Append a button per label to `group`: keys 1–9 on the first nine, `className(label,
 * index)` as class, `pressed` as aria-pressed (null: none), `onPick(index)` on click.
 */
export function appendLabelButtons(group, labels, { className, onPick, pressed = null }) {
  labels.forEach((label, index) => {
    const key = index < 9 ? String(index + 1) : null;
    group.append(el('button', {
      type: 'button', class: className(label, index), 'aria-keyshortcuts': key,
      'aria-pressed': pressed, onclick: () => onPick(index),
    }, key ? el('kbd', {}, key) : null, el('span', {}, label)));
  });
}

/** Mark the `index`-th of the #labels buttons as pressed, the others as not. */
export function pressLabelButton(index) {
  document.querySelectorAll('#labels .label-button').forEach((button, i) => {
    button.setAttribute('aria-pressed', String(i === index));
  });
}

/** An image element once `url` has loaded. */
export function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('the image did not load'));
    img.src = url;
  });
}
