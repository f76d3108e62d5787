// Shared by the studio pages: the JSON API client (CSRF header, readable errors), a DOM
// builder that only ever sets text (never HTML), toasts and the sign-in panel.

/** Value of cookie `name`, or null. */
export function readCookie(name) {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return null;
}

/** A random version-4 UUID; crypto.randomUUID only exists on https and localhost. */
export function uuid4() {
  if (globalThis.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** An HTTP failure: `status` is 0 when the server could not be reached. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(status ? `${status}: ${detail}` : detail);
    this.name = 'ApiError';
    this.status = status;
    this.detail = detail;
  }

  /** True when sending the same request again may succeed (network, timeout, 5xx). */
  get transient() {
    return this.status === 0 || this.status === 408 || this.status === 425 ||
      this.status === 429 || this.status >= 500;
  }
}

function describeDetail(payload, fallback) {
  const detail = payload && payload.detail !== undefined ? payload.detail : payload;
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => (d && d.msg ? `${(d.loc || []).join('.')}: ${d.msg}` : String(d)))
      .join('; ');
  }
  if (detail && typeof detail === 'object') return JSON.stringify(detail);
  return fallback;
}

/** Client of the project's JSON API; cookie auth, with the CSRF header on unsafe methods. */
export class Api {
  constructor(base) {
    this.base = base;
  }

  /**
   * Send a request; resolves to the JSON reply (with `withHeaders`: {data, headers}). A
   * FormData body goes as multipart (the browser sets its boundary), anything else as JSON.
   */
  async request(method, path = '', body = undefined, { withHeaders = false } = {}) {
    const headers = { Accept: 'application/json' };
    const multipart = body instanceof FormData;
    if (body !== undefined && !multipart) headers['Content-Type'] = 'application/json';
    if (!['GET', 'HEAD', 'OPTIONS'].includes(method)) {
      const csrf = readCookie('activelab_csrf');
      if (csrf) headers['X-CSRF-Token'] = csrf;
    }
    let response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers,
        credentials: 'same-origin',
        body: body === undefined || multipart ? body : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(0, `cannot reach the server (${error.message})`);
    }
    const text = await response.text().catch(() => '');
    let payload = null;
    if (text) {
      try {
        payload = JSON.parse(text);
      } catch {
        payload = text;
      }
    }
    if (!response.ok) {
      throw new ApiError(response.status, describeDetail(payload, response.statusText));
    }
    return withHeaders ? { data: payload, headers: response.headers } : payload;
  }

  get(path = '') {
    return this.request('GET', path);
  }

  /** A page of a list route: its rows and the total (X-Total-Count header or `total`). */
  async getPage(path, ...keys) {
    const { data, headers } = await this.request('GET', path, undefined, { withHeaders: true });
    const header = headers.get('X-Total-Count');
    let total = header === null ? null : Number(header);
    if (total === null && data && Number.isFinite(data.total)) total = data.total;
    return { rows: rowsOf(data, ...keys), total: Number.isFinite(total) ? total : null };
  }

  post(path, body) {
    return this.request('POST', path, body);
  }

  put(path, body) {
    return this.request('PUT', path, body);
  }
}

/** The page's API client, from <body data-api>. */
export function pageApi() {
  return new Api(document.body.dataset.api);
}

/**
 * Build an element. `props`: attributes (strings), `class`, `dataset` (object) or event
 * handlers (`onclick`, ...). Children are nodes or values rendered as text, never as HTML.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Set an element's text (by id). */
export function setText(id, value) {
  const node = document.getElementById(id);
  if (node) node.textContent = value === undefined || value === null ? '–' : String(value);
}

/** A number with `digits` decimals, or an en dash for missing values. */
export function formatNumber(value, digits = 3) {
  if (value === undefined || value === null || Number.isNaN(Number(value))) return '–';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  const number = Number(value);
  return Number.isInteger(number) ? String(number) : number.toFixed(digits);
}

/** An ISO 8601 time as local 'YYYY-MM-DD HH:MM:SS'; other values unchanged. */
export function formatTime(value) {
  const date = new Date(value);
  if (value === null || value === undefined || Number.isNaN(date.getTime())) return value ?? '–';
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** A probability as a percentage. */
export function formatPercent(value) {
  if (value === undefined || value === null || Number.isNaN(Number(value))) return '–';
  return `${(Number(value) * 100).toFixed(0)} %`;
}

/** Show a short message; `kind` is info, ok, warn or error. Errors stay until dismissed. */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const close = el('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss' }, '×');
  const node = el('div', { class: `toast ${kind}` }, el('span', {}, message), close);
  close.addEventListener('click', () => node.remove());
  box.append(node);
  while (box.children.length > 4) box.firstElementChild.remove();
  if (kind !== 'error') setTimeout(() => node.remove(), kind === 'warn' ? 8000 : 3500);
}

/** Open the sign-in panel with a reason. */
export function showLogin(reason) {
  const panel = document.getElementById('login');
  if (!panel) return;
  panel.hidden = false;
  document.body.classList.add('signed-out');
  document.getElementById('login-reason').textContent = reason;
  document.getElementById('login-next').value = location.pathname;
  document.getElementById('login-token').focus();
}

/** Show the right message for 401/403; returns true when it handled the error. */
export function handleAuthError(error) {
  if (!(error instanceof ApiError)) return false;
  if (error.status === 401) {
    showLogin(`Sign in to continue (${error.detail}).`);
    return true;
  }
  if (error.status === 403) {
    const main = document.getElementById('main');
    main.replaceChildren(
      el('section', { class: 'panel refusal', role: 'alert' },
        el('h1', {}, 'Not allowed'),
        el('p', {}, error.detail),
        el('p', {}, 'Sign in with another token, or ask the project admin.')),
    );
    showLogin('This token may not open this page.');
    return true;
  }
  return false;
}

/** Show who is signed in (from the project's `me`). */
export function showMe(me) {
  if (!me) return;
  setText('me', `${me.name} (${me.role})`);
  for (const link of document.querySelectorAll('.topbar nav a')) {
    const adminOnly = /\/(review|admin)$/.test(link.getAttribute('href'));
    if (adminOnly && me.role !== 'admin') link.parentElement.hidden = true;
  }
}

/** Rows of a list answer, whether the API sent a bare array or {key: [...]}. */
export function rowsOf(payload, ...keys) {
  if (Array.isArray(payload)) return payload;
  for (const key of keys) if (payload && Array.isArray(payload[key])) return payload[key];
  return [];
}
