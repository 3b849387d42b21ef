// #/assistants and #/assistants/{id|new}: the project's assistants on the left, one assistant's editor on the right.
// The rules (form values <-> API body, what is checked before sending) are in lib/assistant-form.js; this module
// only builds the form, reads it back and talks to /v1.

import { ApiError, get, listAll, post, del } from '../lib/api.js';
import { emptyForm, fieldForParam, formFromAssistant, MAX_METADATA, toBody } from '../lib/assistant-form.js';
import { confirmButton } from '../lib/confirm.js';
import { field, h, mount } from '../lib/dom.js';

/** The thread view (views/threads.js) starts its runs with the assistant id kept here. */
export const PLAYGROUND_ASSISTANT = 'orchestrator.playground.assistant';

// A message for the next render (the editor is rebuilt after a create or a delete moves the address).
let flash = null;

const optional = (promise) => promise.catch((error) => {
  if (error instanceof ApiError && error.status === 401) throw error;
  return [];
});

export async function render(root, { id }) {
  const [assistants, models, files, stores] = await Promise.all([
    listAll('/assistants'),
    optional(get('/models').then((answer) => answer.data.map((model) => model.id))),
    optional(listAll('/files', { purpose: 'assistants' })),
    optional(listAll('/vector_stores')),
  ]);
  let assistant = null;
  let missing = false;
  if (id && id !== 'new') {
    try {
      assistant = await get(`/assistants/${encodeURIComponent(id)}`);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
      missing = true;
    }
  }
  const list = assistantList(assistants, id);
  let editor;
  if (missing) {
    editor = h('section', { class: 'card' }, h('p', { class: 'error', role: 'alert' }, `No assistant ${id} in this project.`));
  } else if (assistant || id === 'new' || !assistants.length) {
    editor = assistantEditor({ assistant, models, files, stores, list });
  } else {
    editor = h('section', { class: 'card' },
      h('h2', null, 'Assistants'),
      h('p', { class: 'muted' }, 'Pick an assistant on the left to edit it and try it in a thread, or create one.'),
      h('a', { href: '#/assistants/new', class: 'button primary' }, 'New assistant'));
  }
  const message = flash;
  flash = null;
  mount(root, h('div', { class: 'split assistants' }, list.element,
    h('div', null, message ? h('p', { class: 'notice', role: 'status' }, message) : null, editor)));
}

function assistantList(assistants, selected) {
  const items = new Map();
  const entry = (assistant) => {
    const name = h('span', { class: 'item-name' }, assistant.name || '(unnamed)');
    items.set(assistant.id, name);
    return h('li', null, h('a', { href: `#/assistants/${encodeURIComponent(assistant.id)}`,
      class: assistant.id === selected ? 'active' : null, 'aria-current': assistant.id === selected ? 'page' : null },
    name, h('span', { class: 'sub' }, `${assistant.model} · ${assistant.id}`)));
  };
  const element = h('aside', { class: 'card' },
    h('div', { class: 'row' }, h('h2', null, 'Assistants'), h('span', { class: 'spacer' }),
      h('a', { href: '#/assistants/new', class: 'button' }, 'New')),
    assistants.length
      ? h('ul', { class: 'list', 'aria-label': 'Assistants', 'data-testid': 'assistant-list' }, assistants.map(entry))
      : h('p', { class: 'muted', 'data-testid': 'assistant-list' }, 'No assistants yet.'));
  return { element, rename: (assistantId, name) => {
    const node = items.get(assistantId);
    if (node) node.textContent = name || '(unnamed)';
  } };
}

function assistantEditor({ assistant, models, files, stores, list }) {
  const creating = !assistant;
  const values = assistant ? formFromAssistant(assistant) : emptyForm();
  const errors = {};
  const errorFor = (key) => {
    errors[key] = h('p', { class: 'error field-error', role: 'alert', id: `assistant-error-${key}`, 'data-testid': `error-${key}` });
    return errors[key];
  };
  const described = (key) => `assistant-error-${key}`;

  const controls = {
    name: h('input', { type: 'text', name: 'name', value: values.name, maxlength: 256, 'aria-describedby': described('name') }),
    description: h('input', { type: 'text', name: 'description', value: values.description, maxlength: 512,
      'aria-describedby': described('description') }),
    model: h('input', { type: 'text', name: 'model', value: values.model, list: 'assistant-models', autocomplete: 'off',
      'aria-describedby': described('model') }),
    instructions: h('textarea', { name: 'instructions', rows: 6, value: values.instructions,
      'aria-describedby': described('instructions') }),
    codeInterpreter: h('input', { type: 'checkbox', name: 'code_interpreter', checked: values.codeInterpreter }),
    fileSearch: h('input', { type: 'checkbox', name: 'file_search', checked: values.fileSearch }),
    functions: h('textarea', { class: 'code', name: 'functions', rows: 8, spellcheck: 'false', value: values.functions,
      placeholder: '[{"name": "get_weather", "description": "...", "parameters": {"type": "object", "properties": {}}}]',
      'aria-describedby': described('functions') }),
    temperature: h('input', { type: 'number', name: 'temperature', min: 0, max: 2, step: 0.01, value: values.temperature,
      'aria-describedby': described('temperature') }),
    topP: h('input', { type: 'number', name: 'top_p', min: 0, max: 1, step: 0.01, value: values.topP,
      'aria-describedby': described('top_p') }),
    responseFormat: h('select', { name: 'response_format', 'aria-describedby': described('response_format') },
      ['auto', 'text', 'json_object', 'json_schema'].map((kind) => h('option', { value: kind, selected: kind === values.responseFormat }, kind))),
    jsonSchema: h('textarea', { class: 'code', name: 'json_schema', rows: 6, spellcheck: 'false', value: values.jsonSchema,
      placeholder: '{"name": "answer", "schema": {"type": "object", "properties": {}}, "strict": true}',
      'aria-describedby': described('response_format') }),
  };
  controls.responseFormat.value = values.responseFormat;
  const schemaField = field('JSON schema', controls.jsonSchema, 'The json_schema object: its name, schema and strict.');
  const showSchema = () => { schemaField.hidden = controls.responseFormat.value !== 'json_schema'; };
  controls.responseFormat.addEventListener('change', showSchema);
  showSchema();

  const metadata = metadataRows(values.metadata);
  const codeFiles = filePicker(files, values.codeFileIds);
  const storePicker = vectorStorePicker(stores, values.vectorStoreIds);

  const formError = h('p', { class: 'error', role: 'alert', 'data-testid': 'form-error' });
  const status = h('p', { class: 'muted', role: 'status', 'data-testid': 'form-status' });
  const submit = h('button', { type: 'submit', class: 'primary' }, creating ? 'Create assistant' : 'Save changes');

  const read = () => ({
    name: controls.name.value,
    description: controls.description.value,
    model: controls.model.value,
    instructions: controls.instructions.value,
    codeInterpreter: controls.codeInterpreter.checked,
    fileSearch: controls.fileSearch.checked,
    functions: controls.functions.value,
    temperature: controls.temperature.value,
    topP: controls.topP.value,
    responseFormat: controls.responseFormat.value,
    jsonSchema: controls.jsonSchema.value,
    metadata: metadata.read(),
    codeFileIds: codeFiles.read(),
    vectorStoreIds: storePicker.read(),
  });
  const controlFor = {
    name: controls.name, description: controls.description, model: controls.model, instructions: controls.instructions,
    functions: controls.functions, temperature: controls.temperature, top_p: controls.topP,
    response_format: controls.responseFormat.value === 'json_schema' ? controls.jsonSchema : controls.responseFormat,
  };
  const clear = () => {
    formError.textContent = '';
    status.textContent = '';
    for (const element of Object.values(errors)) element.textContent = '';
    for (const control of [...Object.values(controlFor), controls.jsonSchema]) {
      control.classList.remove('invalid');
      control.removeAttribute('aria-invalid');
    }
  };
  const mark = (key, message) => {
    const target = errors[key] || formError;
    target.textContent = message;
    const control = key === 'response_format' && controls.responseFormat.value === 'json_schema'
      ? controls.jsonSchema : controlFor[key];
    if (control) {
      control.classList.add('invalid');
      control.setAttribute('aria-invalid', 'true');
    }
    return control;
  };

  async function save(event) {
    event.preventDefault();
    clear();
    const { body, errors: problems } = toBody(read(), { creating });
    const keys = Object.keys(problems);
    if (keys.length) {
      const first = keys.map((key) => mark(key, problems[key])).find(Boolean);
      formError.textContent = keys.length === 1 ? 'One field needs fixing; nothing was sent.'
        : `${keys.length} fields need fixing; nothing was sent.`;
      if (first) first.focus();
      return;
    }
    submit.disabled = true;
    try {
      const path = creating ? '/assistants' : `/assistants/${encodeURIComponent(assistant.id)}`;
      const saved = await post(path, body);
      if (creating) {
        flash = `Created ${saved.name || saved.id}.`;
        location.hash = `#/assistants/${encodeURIComponent(saved.id)}`;
        return;
      }
      list.rename(saved.id, saved.name);
      label = saved.name || saved.id;
      heading.textContent = saved.name || '(unnamed)';
      status.textContent = `Saved at ${new Date().toLocaleTimeString()}.`;
    } catch (error) {
      const key = error instanceof ApiError ? fieldForParam(error.param) : null;
      const where = error instanceof ApiError && error.param ? ` (${error.param})` : '';
      formError.textContent = `The server refused it: ${error.message}${where}`;
      if (key && errors[key]) mark(key, error.message);
    } finally {
      submit.disabled = false;
    }
  }

  let label = assistant ? assistant.name || assistant.id : null;
  const heading = h('h2', null, creating ? 'New assistant' : (assistant.name || '(unnamed)'));
  const actions = [submit];
  if (!creating) {
    actions.push(h('button', { type: 'button', onclick: (event) => tryInThread(event, assistant, formError) }, 'Try in a thread'));
    actions.push(h('span', { class: 'spacer' }));
    actions.push(confirmButton('Delete', 'Delete this assistant?', async () => {
      try {
        await del(`/assistants/${encodeURIComponent(assistant.id)}`);
      } catch (error) {
        formError.textContent = `Could not delete: ${error.message}`;
        return;
      }
      if (sessionStorage.getItem(PLAYGROUND_ASSISTANT) === assistant.id) sessionStorage.removeItem(PLAYGROUND_ASSISTANT);
      flash = `Deleted ${label}.`;
      location.hash = '#/assistants';
    }));
  }

  return h('form', { class: 'card assistant-editor', novalidate: true, onsubmit: save, 'aria-label': 'Assistant' },
    h('div', { class: 'row' },
      heading,
      creating ? null : h('code', { class: 'muted' }, assistant.id)),
    formError,
    h('div', { class: 'columns' },
      h('div', null,
        field('Name', controls.name), errorFor('name'),
        field('Description', controls.description), errorFor('description'),
        field('Model', controls.model, models.length ? 'Type any model the server knows, or pick one.' : null),
        h('datalist', { id: 'assistant-models' }, models.map((model) => h('option', { value: model }))),
        errorFor('model'),
        field('Instructions', controls.instructions), errorFor('instructions'),
        h('fieldset', { class: 'tools' }, h('legend', null, 'Tools'),
          h('div', { class: 'checks' },
            h('label', null, controls.codeInterpreter, 'code_interpreter'),
            h('label', null, controls.fileSearch, 'file_search')),
          errorFor('tools'),
          field('Functions', controls.functions,
            'A JSON array of {"name", "description", "parameters"} (or of {"type": "function", "function": {...}}).'),
          errorFor('functions'))),
      h('div', null,
        h('div', { class: 'row numbers' },
          field('Temperature', controls.temperature, '0 to 2'),
          field('Top P', controls.topP, '0 to 1')),
        errorFor('temperature'), errorFor('top_p'),
        field('Response format', controls.responseFormat), schemaField, errorFor('response_format'),
        h('fieldset', null, h('legend', null, 'Tool resources'),
          codeFiles.element, storePicker.element, errorFor('tool_resources')),
        h('fieldset', null, h('legend', null, `Metadata (up to ${MAX_METADATA})`), metadata.element, errorFor('metadata')))),
    h('div', { class: 'row' }, actions),
    status);
}

async function tryInThread(event, assistant, problem) {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    sessionStorage.setItem(PLAYGROUND_ASSISTANT, assistant.id);
    const thread = await post('/threads', {});
    location.hash = `#/threads/${encodeURIComponent(thread.id)}`;
  } catch (error) {
    problem.textContent = `Could not start a thread: ${error.message}`;
    button.disabled = false;
  }
}

function metadataRows(initial) {
  const rows = h('div', { class: 'metadata-rows' });
  const add = h('button', { type: 'button', onclick: () => { addRow('', ''); rows.lastChild.querySelector('input').focus(); } },
    'Add metadata');
  const renumber = () => {
    [...rows.children].forEach((row, index) => {
      const [keyInput, valueInput, remove] = row.children;
      keyInput.setAttribute('aria-label', `Metadata key ${index + 1}`);
      valueInput.setAttribute('aria-label', `Metadata value ${index + 1}`);
      remove.setAttribute('aria-label', `Remove metadata ${index + 1}`);
    });
    add.disabled = rows.children.length >= MAX_METADATA;
  };
  function addRow(name, value) {
    const row = h('div', { class: 'row metadata-row' },
      h('input', { type: 'text', class: 'metadata-key', value: name, maxlength: 64, placeholder: 'key' }),
      h('input', { type: 'text', class: 'metadata-value', value, maxlength: 512, placeholder: 'value' }),
      h('button', { type: 'button', onclick: () => { row.remove(); renumber(); } }, '×'));
    rows.append(row);
    renumber();
  }
  for (const [name, value] of initial) addRow(name, value);
  renumber();
  return {
    element: h('div', null, rows, add),
    read: () => [...rows.children].map((row) => [row.children[0].value, row.children[1].value]),
  };
}

function filePicker(files, chosen) {
  const known = new Set(files.map((file) => file.id));
  const entries = [...files.map((file) => [file.id, file.filename]), ...chosen.filter((id) => !known.has(id)).map((id) => [id, null])];
  const boxes = entries.map(([fileId, filename]) => {
    const box = h('input', { type: 'checkbox', value: fileId, checked: chosen.includes(fileId) });
    return { box, element: h('label', null, box, filename || fileId, filename ? h('span', { class: 'sub' }, fileId) : null) };
  });
  return {
    element: h('div', { class: 'field', role: 'group', 'aria-label': 'Code interpreter files' },
      h('span', { class: 'field-label' }, 'Code interpreter files'),
      boxes.length ? h('div', { class: 'picker' }, boxes.map((item) => item.element))
        : h('span', { class: 'field-hint' }, 'No files with purpose "assistants" yet: upload some on the ',
          h('a', { href: '#/files' }, 'Files'), ' page.')),
    read: () => boxes.filter((item) => item.box.checked).map((item) => item.box.value),
  };
}

function vectorStorePicker(stores, chosen) {
  const known = new Set(stores.map((store) => store.id));
  const select = h('select', { name: 'vector_store' },
    h('option', { value: '' }, 'None'),
    stores.map((store) => h('option', { value: store.id, selected: chosen.includes(store.id) },
      `${store.name || '(unnamed)'} · ${store.id}`)),
    chosen.filter((storeId) => !known.has(storeId)).map((storeId) => h('option', { value: storeId }, storeId)));
  select.value = chosen[0] || '';
  return {
    element: h('div', null, field('File search vector store', select, stores.length ? 'file_search reads this store.' : null),
      stores.length ? null : h('p', { class: 'field-hint' }, 'No vector stores yet: create one on the ',
        h('a', { href: '#/vector-stores' }, 'Vector stores'), ' page.')),
    read: () => (select.value ? [select.value] : []),
  };
}
