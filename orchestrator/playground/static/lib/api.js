// The page's only way to the server: the public /v1 API, with the key the person typed, like any client.

import { readEvents } from './sse.js';

const KEY_ITEM = 'orchestrator.playground.key';
const BASE = '/v1';

/** The key lives in this tab's session storage only: it goes when the tab closes and is never sent elsewhere. */
export const key = {
  get: () => sessionStorage.getItem(KEY_ITEM),
  set: (value) => sessionStorage.setItem(KEY_ITEM, value),
  clear: () => sessionStorage.removeItem(KEY_ITEM),
};

/** An error answer of the API, with OpenAI's envelope (`{"error": {"message", "type", "param", "code"}}`) unpacked. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.type = error.type || null;
    this.param = error.param || null;
    this.code = error.code || null;
  }
}

function headers(extra) {
  return {
    Authorization: `Bearer ${key.get() || ''}`,
    'OpenAI-Beta': 'assistants=v2',
    ...extra,
  };
}

function url(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (Array.isArray(value)) for (const item of value) params.append(name, item);
    else if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const search = params.toString();
  return `${BASE}${path}${search ? `?${search}` : ''}`;
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: the status says enough
  }
  return new ApiError(response.status, body);
}

/** One request; resolves to the JSON body (null for 204) or rejects with an ApiError. */
export async function request(method, path, { body, query, signal } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }), signal };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(url(path, query), init);
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

export const get = (path, query) => request('GET', path, { query });
export const post = (path, body, query) => request('POST', path, { body: body || {}, query });
export const del = (path) => request('DELETE', path);

/** Every item of a list endpoint, following `after` cursors (capped: the page shows at most `limit` items). */
export async function listAll(path, query = {}, limit = 500) {
  const items = [];
  let after;
  for (;;) {
    const page = await get(path, { limit: 100, ...query, after });
    items.push(...page.data);
    if (!page.has_more || items.length >= limit || !page.data.length) return items;
    after = page.last_id;
  }
}

/** A streamed request (`stream: true` runs, tool outputs, the run events endpoint): calls `onEvent(name, data, id)`
 * for each event until the stream ends; `signal` stops reading. */
export async function stream(method, path, { body, query, signal, onEvent }) {
  const init = { method, headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }), signal };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(url(path, query), init);
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return;
  await readEvents(response, onEvent);
}

/** Uploads a browser File with multipart form data (the Files API). */
export async function upload(file, purpose) {
  const form = new FormData();
  form.append('purpose', purpose);
  form.append('file', file, file.name);
  const response = await fetch(url('/files'), { method: 'POST', headers: headers(), body: form });
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** A file's bytes as an object URL (images of code_interpreter outputs): an <img> cannot send the key itself. */
export async function fileUrl(fileId) {
  const response = await fetch(url(`/files/${encodeURIComponent(fileId)}/content`), { headers: headers() });
  if (!response.ok) throw await failure(response);
  return URL.createObjectURL(await response.blob());
}
