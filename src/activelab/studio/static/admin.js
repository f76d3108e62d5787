// The admin page: annotators and their tokens, export links, agreement (Cohen, Fleiss,
// Dawid–Skene accuracies), the aggregation and the LLM labeller (mode, tokens, cost).

import { el, formatNumber, handleAuthError, pageApi, rowsOf, setText, showMe, toast } from './common.js';

const api = pageApi();
const $ = (id) => document.getElementById(id);

async function loadPeople() {
  const people = rowsOf(await api.get('/annotators'), 'annotators', 'items');
  const rows = $('people-rows');
  rows.replaceChildren();
  for (const person of people) {
    const answers = person.n_answers ?? person.answers ?? null;
    if (person.role === 'machine') {
      rows.append(el('tr', {}, el('td', {}, person.name), el('td', {}, 'machine (LLM)'),
        el('td', {}, answers === null ? '–' : formatNumber(answers)), el('td', {}, 'no token'), el('td', {})));
      continue;
    }
    const renew = el('button', { type: 'button', class: 'small' }, 'new token');
    renew.addEventListener('click', () => newToken(person));
    const revoke = el('button', { type: 'button', class: 'small danger' }, 'revoke');
    revoke.disabled = Boolean(person.revoked_at);
    revoke.addEventListener('click', () => revokeToken(person));
    rows.append(el('tr', {}, el('td', {}, person.name), el('td', {}, person.role),
      el('td', {}, answers === null ? '–' : formatNumber(answers)),
      el('td', {}, person.revoked_at ? `revoked ${person.revoked_at.slice(0, 16).replace('T', ' ')}` : 'active'),
      el('td', {}, renew, ' ', revoke)));
  }
  if (!people.length) rows.append(el('tr', {}, el('td', { colspan: 5, class: 'muted' }, 'nobody yet')));
}

function showToken(name, role, token) {
  $('new-token').hidden = false;
  setText('new-token-name', `${name} (${role})`);
  $('new-token-value').value = token;
  $('new-token-link').value = `${location.origin}/login?token=${encodeURIComponent(token)}`;
  $('new-token-value').focus();
  $('new-token-value').select();
}

async function newToken(person) {
  if (!window.confirm(`Give ${person.name} a new token? Their current one stops working at once.`)) return;
  try {
    const reply = await api.post(`/annotators/${person.id}/token`);
    showToken(reply.name, reply.role, reply.token);
    toast(`${person.name} has a new token; the old one no longer works.`, 'ok');
    await loadPeople();
  } catch (error) {
    if (!handleAuthError(error)) toast(`Could not renew the token of ${person.name}: ${error.message}`, 'error');
  }
}

async function revokeToken(person) {
  if (!window.confirm(`Revoke the token of ${person.name}? Their answers stay; they are signed out at once.`)) return;
  try {
    await api.request('DELETE', `/annotators/${person.id}/token`);
    toast(`${person.name}'s token is revoked.`, 'ok');
    await loadPeople();
  } catch (error) {
    if (!handleAuthError(error)) toast(`Could not revoke the token of ${person.name}: ${error.message}`, 'error');
  }
}

async function loadAgreement() {
  const agreement = await api.get('/agreement');
  const fleiss = agreement.fleiss || {};
  setText('fleiss-kappa', formatNumber(fleiss.kappa));
  setText('fleiss-n', formatNumber(fleiss.n));
  const rows = $('cohen-rows');
  rows.replaceChildren();
  for (const pair of agreement.cohen || []) {
    rows.append(el('tr', {}, el('td', {}, pair.a), el('td', {}, pair.b),
      el('td', {}, formatNumber(pair.kappa)), el('td', {}, formatNumber(pair.n))));
  }
  if (!(agreement.cohen || []).length) {
    rows.append(el('tr', {}, el('td', { colspan: 4, class: 'muted' }, 'no pair of annotators shares an item yet')));
  }
  const accuracy = $('accuracy-rows');
  accuracy.replaceChildren();
  for (const row of agreement.annotators || []) {
    const perLabel = Object.entries(row.per_class || {}).map(([label, p]) => `${label} ${formatNumber(p)}`).join(', ');
    accuracy.append(el('tr', {}, el('td', {}, row.annotator), el('td', {}, formatNumber(row.accuracy)),
      el('td', {}, perLabel), el('td', {}, formatNumber(row.n))));
  }
  if (!(agreement.annotators || []).length) {
    accuracy.append(el('tr', {}, el('td', { colspan: 4, class: 'muted' }, 'needs items answered by two or more annotators')));
  }
}

async function loadLLM() {
  const llm = await api.get('/llm');
  const settings = llm.settings || {};
  const totals = llm.totals || {};
  setText('llm-mode', settings.mode);
  setText('llm-model-name', settings.model ? `${settings.model} at ${settings.base_url}` : '–');
  setText('llm-key', settings.api_key_env ? `${settings.api_key_env} (${settings.api_key_set ? 'set' : 'not set'})` : 'none');
  setText('llm-rounds', `${formatNumber(totals.rounds)} (${formatNumber(totals.failed_rounds)} failed)`);
  setText('llm-requests', `${formatNumber(totals.requests)} (${formatNumber(totals.cached)} cached, ${formatNumber(totals.retries)} retried)`);
  setText('llm-tokens', `${formatNumber(totals.prompt_tokens)} + ${formatNumber(totals.completion_tokens)}`);
  setText('llm-cost', formatNumber(totals.cost, 4));
  setText('llm-labels', formatNumber(llm.machine_labels));
  setText('llm-people', formatNumber(totals.n_to_people));
  setText('llm-error', llm.last_error ? `${llm.last_error.at.slice(0, 16).replace('T', ' ')}: ${llm.last_error.error}` : 'none');
  $('llm-mode-select').value = settings.mode || 'off';
}

function watchLabelling(project) {
  if (project.task !== 'text' && project.task !== 'image') return;
  $('aggregation-select').value = project.aggregation || 'majority';
  $('aggregation-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const reply = await api.put('/settings', { aggregation: $('aggregation-select').value });
      toast(`Aggregation: ${reply.aggregation}; the model retrains on it.`, 'ok');
    } catch (error) {
      if (!handleAuthError(error)) toast(`Could not change the aggregation: ${error.message}`, 'error');
    }
  });
  if (project.task !== 'text' || project.multi_label) return;
  $('llm-panel').hidden = false;
  $('llm-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const reply = await api.put('/settings', { llm: { mode: $('llm-mode-select').value } });
      toast(`LLM labeller: ${reply.llm.mode}.`, 'ok');
      await loadLLM();
    } catch (error) {
      if (!handleAuthError(error)) toast(`Could not change the LLM labeller: ${error.message}`, 'error');
    }
  });
  loadLLM().catch((error) => {
    if (!handleAuthError(error)) toast(`Could not load the LLM labeller: ${error.message}`, 'error');
  });
}

async function createPerson(event) {
  event.preventDefault();
  const name = $('person-name').value.trim();
  const role = $('person-role').value;
  if (!name) return;
  try {
    const reply = await api.post('/annotators', { name, role });
    showToken(name, role, reply.token);
    $('person-name').value = '';
    toast(`${name} can now sign in with the token shown.`, 'ok');
    await loadPeople();
  } catch (error) {
    if (!handleAuthError(error)) toast(`Could not add ${name}: ${error.message}`, 'error');
  }
}

async function importFile(event) {
  event.preventDefault();
  const input = $('import-file');
  if (!input.files.length) return;
  const form = new FormData();
  form.append('file', input.files[0]);
  setText('import-result', `importing ${input.files[0].name}…`);
  $('import-errors').replaceChildren();
  try {
    const reply = await api.request('POST', '/import', form);
    const errors = reply.errors || [];
    setText('import-result', `${reply.added} item${reply.added === 1 ? '' : 's'} added` +
      (errors.length ? `; ${errors.length} row${errors.length === 1 ? '' : 's'} refused:` : '.'));
    for (const problem of errors) {
      const where = [problem.line ? `line ${problem.line}` : null, problem.field ? `field '${problem.field}'` : null]
        .filter(Boolean).join(', ');
      $('import-errors').append(el('li', {}, where ? `${where}: ${problem.message}` : String(problem.message ?? problem)));
    }
    input.value = '';
  } catch (error) {
    setText('import-result', '');
    if (!handleAuthError(error)) toast(`Could not import: ${error.message}`, 'error');
  }
}

function describeEmbedding(project) {
  const job = (project.trainer && project.trainer.embedding) || {};
  const features = project.features || 'tfidf';
  const bar = $('embedding-progress');
  bar.hidden = !(job.state === 'running' || job.state === 'waiting');
  bar.max = Math.max(1, job.total || 0);
  bar.value = job.done || 0;
  if (features === 'tfidf') return 'The model reads TF-IDF.';
  if (job.state === 'ready') return `The model reads MiniLM embeddings (${job.total} texts).`;
  if (job.state === 'running') return `Embedding texts: ${job.done} of ${job.total}; TF-IDF serves meanwhile.`;
  if (job.state === 'unavailable' || job.state === 'failed') return `MiniLM ${job.state}: ${job.error}; TF-IDF serves.`;
  return 'MiniLM embeddings will start at the trainer\'s next step; TF-IDF serves meanwhile.';
}

async function watchSettings(project) {
  if (project.task !== 'text') return;
  $('settings').hidden = false;
  $('features-select').value = project.features || 'tfidf';
  setText('embedding-status', describeEmbedding(project));
  $('settings-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const reply = await api.put('/settings', { features: $('features-select').value });
      toast(`Features: ${reply.features}.`, 'ok');
    } catch (error) {
      if (!handleAuthError(error)) toast(`Could not change the features: ${error.message}`, 'error');
    }
  });
  setInterval(async () => {
    try {
      setText('embedding-status', describeEmbedding(await api.get('')));
    } catch (error) {
      handleAuthError(error);
    }
  }, 2000);
}

function watchDetector(project) {
  if (project.task !== 'detection') return;
  $('detector-settings').hidden = false;
  $('detector-input').value = project.detector || '';
  $('detector-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const reply = await api.put('/settings', { detector: $('detector-input').value.trim() });
      toast(reply.detector ? `Detector: ${reply.detector}.` : 'No detector: import order.', 'ok');
    } catch (error) {
      if (!handleAuthError(error)) toast(`Could not set the detector: ${error.message}`, 'error');
    }
  });
}

function showExports(project) {
  const ner = project.task === 'ner';
  const boxes = project.task === 'detection';
  for (const id of ['export-csv', 'export-parquet']) $(id).parentElement.hidden = ner || boxes;
  $('export-jsonl').parentElement.hidden = boxes;
  $('export-coco').parentElement.hidden = !boxes;
  $('export-conll').parentElement.hidden = !ner;
  $('export-ner-note').hidden = !ner;
}

async function start() {
  let project;
  try {
    project = await api.get('');
  } catch (error) {
    if (!handleAuthError(error)) toast(`Could not open the project: ${error.message}`, 'error');
    return;
  }
  showMe(project.me);
  if (project.me && project.me.role !== 'admin') {
    $('main').replaceChildren(el('section', { class: 'panel refusal', role: 'alert' },
      el('h1', {}, 'Admins only'), el('p', {}, 'The admin page is for the project admin.')));
    return;
  }
  showExports(project);
  watchSettings(project);
  watchDetector(project);
  watchLabelling(project);
  $('new-person').addEventListener('submit', createPerson);
  $('import').addEventListener('submit', importFile);
  $('agreement-refresh').addEventListener('click', () => loadAgreement().catch((error) => {
    if (!handleAuthError(error)) toast(`Could not compute agreement: ${error.message}`, 'error');
  }));
  for (const [task, what] of [[loadPeople, 'annotators'], [loadAgreement, 'agreement']]) {
    try {
      await task();
    } catch (error) {
      if (handleAuthError(error)) return;
      toast(`Could not load the ${what}: ${error.message}`, 'error');
    }
  }
}

start();
