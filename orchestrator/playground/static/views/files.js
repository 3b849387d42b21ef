// #/files: the project's files (upload, download, delete). #/vector-stores[/{id}]: vector stores (create from
// files, open one to see each file's ingestion, add and remove files, delete the store). While a store still
// ingests a file, its page asks again every second until none is in progress.

import { ApiError, del, fileUrl, get, listAll, post, upload } from '../lib/api.js';
import { confirmButton } from '../lib/confirm.js';
import { badge, field, h, mount, when } from '../lib/dom.js';

const PURPOSES = ['assistants', 'vision', 'user_data', 'batch', 'fine-tune', 'evals'];
const REFRESH_MS = 1000;

export function render(root, params) {
  if ('vectorStoreId' in params) return renderStores(root, params.vectorStoreId);
  return renderFiles(root);
}

/** Bytes as a person reads them. */
export function size(bytes) {
  if (bytes === null || bytes === undefined) return '–';
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function problemText(error) {
  return error instanceof ApiError && error.param ? `${error.message} (${error.param})` : error.message || String(error);
}

async function download(file, problem) {
  try {
    const href = await fileUrl(file.id);
    const link = h('a', { href, download: file.filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    // The browser has the bytes once the click is handled; the object URL can go a little later.
    setTimeout(() => URL.revokeObjectURL(href), 60_000);
  } catch (error) {
    problem.textContent = `Could not download ${file.filename}: ${problemText(error)}`;
  }
}

// -- files

async function renderFiles(root) {
  const problem = h('p', { class: 'error', role: 'alert', 'data-testid': 'files-error' });
  const status = h('p', { class: 'muted', role: 'status' });
  const table = h('div', { 'data-testid': 'file-table' });

  async function reload() {
    const files = await listAll('/files');
    mount(table, files.length ? fileTable(files) : h('p', { class: 'muted' }, 'No files yet.'));
  }

  function fileTable(files) {
    return h('table', { 'aria-label': 'Files' },
      h('thead', null, h('tr', null, ['Name', 'Purpose', 'Size', 'Created', 'Status', ''].map((title) => h('th', null, title)))),
      h('tbody', null, files.map((file) => h('tr', { 'data-file-id': file.id },
        h('td', null, file.filename, h('span', { class: 'sub' }, file.id)),
        h('td', null, file.purpose),
        h('td', null, size(file.bytes)),
        h('td', null, when(file.created_at)),
        h('td', null, badge(file.status || 'processed'), file.status_details ? h('span', { class: 'sub' }, file.status_details) : null),
        h('td', { class: 'actions' },
          h('button', { type: 'button', onclick: () => download(file, problem) }, 'Download'), ' ',
          confirmButton('Delete', `Delete ${file.filename}?`, async () => {
            try {
              await del(`/files/${encodeURIComponent(file.id)}`);
              status.textContent = `Deleted ${file.filename}.`;
              await reload();
            } catch (error) {
              problem.textContent = `Could not delete ${file.filename}: ${problemText(error)}`;
            }
          }))))));
  }

  const chooser = h('input', { type: 'file', name: 'file', multiple: true });
  const purpose = h('select', { name: 'purpose' }, PURPOSES.map((name) => h('option', { value: name }, name)));
  purpose.value = 'assistants';
  const send = h('button', { type: 'submit', class: 'primary' }, 'Upload');
  const form = h('form', { class: 'upload-form', onsubmit: async (event) => {
    event.preventDefault();
    problem.textContent = '';
    status.textContent = '';
    const chosen = [...chooser.files];
    if (!chosen.length) {
      problem.textContent = 'Choose a file first.';
      return;
    }
    send.disabled = true;
    try {
      for (const file of chosen) {
        await upload(file, purpose.value);
      }
      status.textContent = `Uploaded ${chosen.map((file) => file.name).join(', ')}.`;
      form.reset();
      purpose.value = 'assistants';
      await reload();
    } catch (error) {
      problem.textContent = `Upload failed: ${problemText(error)}`;
    } finally {
      send.disabled = false;
    }
  } }, field('File', chooser), field('Purpose', purpose), send);

  await reload();
  mount(root, h('section', { class: 'card files-view' },
    h('div', { class: 'row' }, h('h2', null, 'Files'), h('span', { class: 'spacer' }),
      h('a', { href: '#/vector-stores' }, 'Vector stores →')),
    form, problem, status, table));
}

// -- vector stores

async function renderStores(root, storeId) {
  const [stores, files] = await Promise.all([listAll('/vector_stores'), listAll('/files', { purpose: 'assistants' })]);
  const list = h('aside', { class: 'card' },
    h('div', { class: 'row' }, h('h2', null, 'Vector stores'), h('span', { class: 'spacer' }),
      h('a', { href: '#/vector-stores', class: 'button' }, 'New')),
    stores.length
      ? h('ul', { class: 'list', 'aria-label': 'Vector stores', 'data-testid': 'store-list' }, stores.map((store) => h('li', null,
        h('a', { href: `#/vector-stores/${encodeURIComponent(store.id)}`, class: store.id === storeId ? 'active' : null,
          'aria-current': store.id === storeId ? 'page' : null },
        h('span', { class: 'item-name' }, store.name || '(unnamed)'),
        h('span', { class: 'sub' }, `${store.file_counts.total} file${store.file_counts.total === 1 ? '' : 's'} · ${store.id}`)))))
      : h('p', { class: 'muted', 'data-testid': 'store-list' }, 'No vector stores yet.'));
  const detail = h('div');
  mount(root, h('div', { class: 'split stores-view' }, list, detail));
  if (!storeId) {
    mount(detail, createStoreForm(files));
    return null;
  }
  return storeDetail(detail, storeId, files);
}

function filePicker(files, label) {
  const boxes = files.map((file) => {
    const box = h('input', { type: 'checkbox', value: file.id });
    return { box, element: h('label', null, box, file.filename, h('span', { class: 'sub' }, file.id)) };
  });
  return {
    element: h('div', { class: 'field', role: 'group', 'aria-label': label },
      h('span', { class: 'field-label' }, label),
      boxes.length ? h('div', { class: 'picker' }, boxes.map((item) => item.element))
        : h('span', { class: 'field-hint' }, 'No files with purpose "assistants" yet: upload some on the ',
          h('a', { href: '#/files' }, 'Files'), ' page.')),
    read: () => boxes.filter((item) => item.box.checked).map((item) => item.box.value),
  };
}

function createStoreForm(files) {
  const name = h('input', { type: 'text', name: 'name', maxlength: 256 });
  const picker = filePicker(files, 'Files to add');
  const problem = h('p', { class: 'error', role: 'alert' });
  const send = h('button', { type: 'submit', class: 'primary' }, 'Create vector store');
  return h('form', { class: 'card', onsubmit: async (event) => {
    event.preventDefault();
    problem.textContent = '';
    send.disabled = true;
    try {
      const body = { file_ids: picker.read() };
      if (name.value.trim()) body.name = name.value.trim();
      const store = await post('/vector_stores', body);
      location.hash = `#/vector-stores/${encodeURIComponent(store.id)}`;
    } catch (error) {
      problem.textContent = `Could not create it: ${problemText(error)}`;
      send.disabled = false;
    }
  } },
  h('h2', null, 'New vector store'),
  field('Name', name), picker.element, problem, h('div', { class: 'row' }, send));
}

function storeDetail(element, storeId, files) {
  const names = new Map(files.map((file) => [file.id, file.filename]));
  const problem = h('p', { class: 'error', role: 'alert', 'data-testid': 'store-error' });
  const status = h('p', { class: 'muted', role: 'status' });
  const summary = h('div');
  const table = h('div', { 'data-testid': 'store-files' });
  const existing = h('select', { name: 'existing', 'aria-label': 'Existing file' });
  let timer = null;
  let stopped = false;
  let loading = null;

  function schedule(inProgress) {
    clearTimeout(timer);
    timer = null;
    // isConnected: a person who left before the first read finished has no cleanup registered yet.
    if (inProgress && !stopped && element.isConnected) timer = setTimeout(refresh, REFRESH_MS);
  }

  async function load() {
    const [store, storeFiles] = await Promise.all([
      get(`/vector_stores/${encodeURIComponent(storeId)}`),
      listAll(`/vector_stores/${encodeURIComponent(storeId)}/files`),
    ]);
    if (stopped) return;
    const counts = store.file_counts;
    mount(summary,
      h('div', { class: 'row' }, h('h2', null, store.name || '(unnamed)'), badge(store.status), h('code', { class: 'muted' }, store.id)),
      h('div', { class: 'counts', 'data-testid': 'file-counts' },
        ['completed', 'in_progress', 'failed', 'cancelled', 'total'].map((name) => h('span', { 'data-count': name },
          `${name.replace('_', ' ')}: ${counts[name]}`)),
        h('span', null, `size: ${size(store.usage_bytes)}`),
        h('span', null, `created: ${when(store.created_at)}`)));
    mount(table, storeFiles.length ? storeFileTable(storeFiles) : h('p', { class: 'muted' }, 'No files in this store yet.'));
    const inStore = new Set(storeFiles.map((file) => file.id));
    mount(existing, h('option', { value: '' }, 'Pick a file…'),
      files.filter((file) => !inStore.has(file.id)).map((file) => h('option', { value: file.id }, `${file.filename} · ${file.id}`)));
    schedule(storeFiles.some((file) => file.status === 'in_progress') || counts.in_progress > 0);
  }

  // One load at a time: a timer tick and a button press never interleave their renders.
  function refresh() {
    if (!loading) {
      loading = load().catch((error) => {
        if (!stopped) problem.textContent = `Could not refresh: ${problemText(error)}`;
      }).finally(() => { loading = null; });
    }
    return loading;
  }

  function storeFileTable(storeFiles) {
    return h('table', { 'aria-label': 'Files in this store' },
      h('thead', null, h('tr', null, ['File', 'Status', 'Size', 'Added', ''].map((title) => h('th', null, title)))),
      h('tbody', null, storeFiles.map((file) => h('tr', { 'data-file-id': file.id },
        h('td', null, names.get(file.id) || file.id, h('span', { class: 'sub' }, file.id)),
        h('td', null, badge(file.status),
          file.last_error ? h('span', { class: 'error sub' }, `${file.last_error.code}: ${file.last_error.message}`) : null),
        h('td', null, size(file.usage_bytes)),
        h('td', null, when(file.created_at)),
        h('td', { class: 'actions' }, confirmButton('Remove', 'Remove it from this store?', async () => {
          try {
            await del(`/vector_stores/${encodeURIComponent(storeId)}/files/${encodeURIComponent(file.id)}`);
            status.textContent = `Removed ${names.get(file.id) || file.id}.`;
            await refresh();
          } catch (error) {
            problem.textContent = `Could not remove it: ${problemText(error)}`;
          }
        }, 'Yes, remove'))))));
  }

  async function attach(fileIds) {
    for (const fileId of fileIds) {
      await post(`/vector_stores/${encodeURIComponent(storeId)}/files`, { file_id: fileId });
    }
    await refresh();
  }

  const chooser = h('input', { type: 'file', name: 'file', multiple: true });
  const uploadButton = h('button', { type: 'submit' }, 'Upload and add');
  const uploadForm = h('form', { class: 'upload-form', onsubmit: async (event) => {
    event.preventDefault();
    problem.textContent = '';
    const chosen = [...chooser.files];
    if (!chosen.length) {
      problem.textContent = 'Choose a file first.';
      return;
    }
    uploadButton.disabled = true;
    try {
      const uploaded = [];
      for (const file of chosen) {
        const created = await upload(file, 'assistants');
        names.set(created.id, created.filename);
        files.push(created);
        uploaded.push(created.id);
      }
      await attach(uploaded);
      status.textContent = `Added ${chosen.map((file) => file.name).join(', ')}.`;
      uploadForm.reset();
    } catch (error) {
      problem.textContent = `Could not add it: ${problemText(error)}`;
    } finally {
      uploadButton.disabled = false;
    }
  } }, field('Upload files', chooser), uploadButton);

  const addButton = h('button', { type: 'submit' }, 'Add');
  const existingForm = h('form', { class: 'upload-form', onsubmit: async (event) => {
    event.preventDefault();
    problem.textContent = '';
    if (!existing.value) return;
    addButton.disabled = true;
    try {
      const fileId = existing.value;
      await attach([fileId]);
      status.textContent = `Added ${names.get(fileId) || fileId}.`;
    } catch (error) {
      problem.textContent = `Could not add it: ${problemText(error)}`;
    } finally {
      addButton.disabled = false;
    }
  } }, field('Or add an uploaded file', existing), addButton);

  mount(element, h('section', { class: 'card store-detail' },
    summary, problem, status, table,
    h('h3', null, 'Add files'), uploadForm, existingForm,
    h('div', { class: 'row end' }, confirmButton('Delete vector store', 'Delete this vector store?', async () => {
      try {
        await del(`/vector_stores/${encodeURIComponent(storeId)}`);
      } catch (error) {
        problem.textContent = `Could not delete it: ${problemText(error)}`;
        return;
      }
      location.hash = '#/vector-stores';
    }))));

  const stop = () => {
    stopped = true;
    clearTimeout(timer);
  };
  loading = load().finally(() => { loading = null; });
  return loading.then(() => stop, (error) => {
    stop();
    if (error instanceof ApiError && error.status === 404) {
      mount(element, h('section', { class: 'card' }, h('p', { class: 'error', role: 'alert' }, `No vector store ${storeId} in this project.`)));
      return null;
    }
    throw error;
  });
}
