// #/threads: the project's threads, newest first, from GET /v1/threads (beyond OpenAI's API: its playground used a
// private list). A server without that endpoint still gets the controls: a new thread, or one opened by its id.

import { ApiError, del, get, post } from '../lib/api.js';
import { field, h, mount, when } from '../lib/dom.js';

const PAGE = 20;

function metadataText(metadata) {
  const pairs = Object.entries(metadata || {});
  return pairs.length ? pairs.map(([name, value]) => `${name}=${value}`).join(' · ') : null;
}

function threadRow(thread, problem) {
  const item = h('li', { class: 'thread-row', 'data-thread-id': thread.id });
  const meta = metadataText(thread.metadata);
  const link = h('a', { href: `#/threads/${encodeURIComponent(thread.id)}` },
    h('span', { class: 'thread-id' }, thread.id),
    h('span', { class: 'sub' }, when(thread.created_at)),
    meta ? h('span', { class: 'sub' }, meta) : null);
  const actions = h('div', { class: 'row thread-actions' });

  function ask() {
    mount(actions,
      h('span', { class: 'muted' }, 'Delete this thread and its messages?'),
      h('button', { type: 'button', class: 'danger', onclick: confirm, 'aria-label': `Confirm delete ${thread.id}` },
        'Confirm delete'),
      h('button', { type: 'button', onclick: idle }, 'Keep'));
  }

  async function confirm(event) {
    event.target.disabled = true;
    try {
      await del(`/threads/${encodeURIComponent(thread.id)}`);
      item.remove();
    } catch (error) {
      problem.textContent = `Could not delete ${thread.id}: ${error.message}`;
      idle();
    }
  }

  function idle() {
    mount(actions, h('button', { type: 'button', class: 'danger', onclick: ask, 'aria-label': `Delete ${thread.id}` },
      'Delete'));
  }

  idle();
  item.append(h('div', { class: 'row' }, link, h('span', { class: 'spacer' }), actions));
  return item;
}

/** Renders the thread list with its controls into `root`. */
export async function renderThreadList(root) {
  const problem = h('p', { class: 'error', role: 'alert' });
  const list = h('ul', { class: 'list thread-list', 'aria-label': 'Threads' });
  const more = h('div', { class: 'row' });
  const status = h('p', { class: 'muted' });

  const create = h('button', { type: 'button', class: 'primary', onclick: async () => {
    create.disabled = true;
    try {
      const thread = await post('/threads', {});
      location.hash = `#/threads/${encodeURIComponent(thread.id)}`;
    } catch (error) {
      problem.textContent = `Could not create a thread: ${error.message}`;
      create.disabled = false;
    }
  } }, 'New thread');

  const idInput = h('input', { type: 'text', name: 'thread_id', placeholder: 'thread_…', autocomplete: 'off',
    spellcheck: 'false' });
  const open = h('form', { class: 'row open-thread', onsubmit: (event) => {
    event.preventDefault();
    const id = idInput.value.trim();
    if (!id) {
      problem.textContent = 'Type a thread id to open it.';
      return;
    }
    location.hash = `#/threads/${encodeURIComponent(id)}`;
  } }, field('Open thread by id', idInput), h('button', { type: 'submit' }, 'Open'));

  mount(root, h('section', { class: 'card thread-index' },
    h('div', { class: 'row' }, h('h2', null, 'Threads'), h('span', { class: 'spacer' }), create),
    open, problem, status, list, more));

  async function load(after) {
    let page;
    try {
      page = await get('/threads', { limit: PAGE, order: 'desc', after });
    } catch (error) {
      // 404/405: a server from before the thread list (POST /v1/threads alone answers that path).
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
        status.textContent = 'This server does not list threads: start a new one, or open one by its id.';
        return;
      }
      throw error;
    }
    list.append(...page.data.map((thread) => threadRow(thread, problem)));
    status.textContent = list.children.length ? '' : 'No threads yet: start one with “New thread”.';
    mount(more, page.has_more
      ? h('button', { type: 'button', onclick: () => load(page.last_id).catch(shown) }, 'Load more')
      : null);
  }

  function shown(error) {
    problem.textContent = `Could not list threads: ${error.message}`;
  }

  try {
    await load(undefined);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw error; // the shell asks for a key again
    shown(error);
  }
}
