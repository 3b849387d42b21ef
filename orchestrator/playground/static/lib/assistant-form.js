// The assistant editor's rules, without the DOM: form values <-> the API's assistant body, and the checks the page
// makes before it sends anything (the server checks again; these only spare the person a round trip and point at
// the field, with a line and column for JSON typos).

export const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
export const MAX_METADATA = 16;
export const MAX_CODE_FILES = 20;
export const RESPONSE_FORMATS = ['auto', 'text', 'json_object', 'json_schema'];
const FUNCTION_KEYS = ['name', 'description', 'parameters', 'strict'];

/** The values of a new assistant's form. */
export function emptyForm() {
  return {
    name: '',
    description: '',
    model: '',
    instructions: '',
    codeInterpreter: false,
    fileSearch: false,
    functions: '',
    temperature: '',
    topP: '',
    responseFormat: 'auto',
    jsonSchema: '',
    metadata: [],
    codeFileIds: [],
    vectorStoreIds: [],
  };
}

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
const pretty = (value) => JSON.stringify(value, null, 2);

/** The form's values for an assistant as the API returns it. */
export function formFromAssistant(assistant) {
  const tools = assistant.tools || [];
  const functions = tools.filter((tool) => tool.type === 'function').map((tool) => tool.function);
  const format = assistant.response_format;
  const kind = isObject(format) ? format.type : 'auto';
  const resources = assistant.tool_resources || {};
  return {
    name: assistant.name || '',
    description: assistant.description || '',
    model: assistant.model || '',
    instructions: assistant.instructions || '',
    codeInterpreter: tools.some((tool) => tool.type === 'code_interpreter'),
    fileSearch: tools.some((tool) => tool.type === 'file_search'),
    functions: functions.length ? pretty(functions) : '',
    temperature: numberText(assistant.temperature),
    topP: numberText(assistant.top_p),
    responseFormat: RESPONSE_FORMATS.includes(kind) ? kind : 'auto',
    jsonSchema: kind === 'json_schema' && format.json_schema ? pretty(format.json_schema) : '',
    metadata: Object.entries(assistant.metadata || {}),
    codeFileIds: [...((resources.code_interpreter || {}).file_ids || [])],
    vectorStoreIds: [...((resources.file_search || {}).vector_store_ids || [])],
  };
}

function numberText(value) {
  return value === null || value === undefined ? '' : String(value);
}

/** Where a JSON.parse failure is, as 1-based line and column: engines say it as a position, a line and column, or
 * (for a truncated text) not at all, which means the end. */
export function jsonErrorAt(text, error) {
  const message = String((error && error.message) || error);
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
  const position = /position (\d+)/.exec(message);
  const offset = position ? Math.min(Number(position[1]), text.length) : text.length;
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** `text` parsed as JSON: `{value}`, or `{error}` with the message, line and column. */
export function parseJson(text) {
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    const { line, column } = jsonErrorAt(text, error);
    // The place is said once, as line and column (Chromium adds "at position N" and may add "(line L column C)").
    const reason = String(error.message).replace(/\s*\(line \d+ column \d+\)\s*$/, '').replace(/ in JSON at position \d+$/, '');
    return { error: `JSON syntax error at line ${line}, column ${column}: ${reason}`, line, column };
  }
}

/** The function definitions typed as JSON: an array of `{name, description, parameters}` or of OpenAI's
 * `{type: 'function', function: {...}}`. Returns `{functions}` (the inner definitions) or `{error}`. */
export function parseFunctions(text) {
  if (!text.trim()) return { functions: [] };
  const parsed = parseJson(text);
  if (parsed.error) return { error: parsed.error, line: parsed.line, column: parsed.column };
  const items = Array.isArray(parsed.value) ? parsed.value : [parsed.value];
  const functions = [];
  const seen = new Set();
  for (const [index, item] of items.entries()) {
    const where = `Function ${index + 1}`;
    if (!isObject(item)) return { error: `${where}: expected an object.` };
    let definition = item;
    if ('type' in item || 'function' in item) {
      if (item.type !== 'function') return { error: `${where}: type must be "function".` };
      if (!isObject(item.function)) return { error: `${where}: "function" must be an object.` };
      const extra = Object.keys(item).find((key) => key !== 'type' && key !== 'function');
      if (extra) return { error: `${where}: unknown key "${extra}".` };
      definition = item.function;
    }
    const unknown = Object.keys(definition).find((key) => !FUNCTION_KEYS.includes(key));
    if (unknown) return { error: `${where}: unknown key "${unknown}" (use ${FUNCTION_KEYS.join(', ')}).` };
    if (typeof definition.name !== 'string' || !FUNCTION_NAME.test(definition.name)) {
      const got = definition.name === undefined ? 'it is missing' : `got ${JSON.stringify(definition.name)}`;
      return { error: `${where}: name must be 1-64 characters from a-z, A-Z, 0-9, _ and - (${got}).` };
    }
    if (seen.has(definition.name)) return { error: `${where}: the name "${definition.name}" is used twice.` };
    seen.add(definition.name);
    if ('description' in definition && typeof definition.description !== 'string') {
      return { error: `${where} (${definition.name}): description must be a string.` };
    }
    if ('parameters' in definition && !isObject(definition.parameters)) {
      return { error: `${where} (${definition.name}): parameters must be a JSON Schema object.` };
    }
    if ('strict' in definition && ![true, false, null].includes(definition.strict)) {
      return { error: `${where} (${definition.name}): strict must be true or false.` };
    }
    functions.push(definition);
  }
  return { functions };
}

function parseNumber(text, low, high, label) {
  const trimmed = String(text).trim();
  if (!trimmed) return { value: null };
  const value = Number(trimmed);
  if (!Number.isFinite(value) || value < low || value > high) {
    return { error: `${label} must be a number from ${low} to ${high}.` };
  }
  return { value };
}

function parseResponseFormat(kind, schemaText) {
  if (kind === 'auto') return { value: 'auto' };
  if (kind === 'text' || kind === 'json_object') return { value: { type: kind } };
  if (kind !== 'json_schema') return { error: `Unknown response format "${kind}".` };
  if (!schemaText.trim()) return { error: 'A json_schema response format needs {"name": ..., "schema": {...}}.' };
  const parsed = parseJson(schemaText);
  if (parsed.error) return { error: parsed.error };
  const schema = parsed.value;
  if (!isObject(schema)) return { error: 'The json_schema must be an object with a name and a schema.' };
  if (typeof schema.name !== 'string' || !schema.name) return { error: 'The json_schema needs a "name" (a string).' };
  if ('schema' in schema && !isObject(schema.schema)) return { error: '"schema" must be a JSON Schema object.' };
  return { value: { type: 'json_schema', json_schema: schema } };
}

function parseMetadata(rows) {
  const filled = rows.filter(([name, value]) => String(name).trim() || String(value).trim());
  if (filled.length > MAX_METADATA) return { error: `At most ${MAX_METADATA} metadata keys.` };
  const metadata = {};
  for (const [rawName, value] of filled) {
    const name = String(rawName).trim();
    if (!name) return { error: `The value "${value}" has no key.` };
    if (name.length > 64) return { error: `The key "${name.slice(0, 20)}…" is longer than 64 characters.` };
    if (String(value).length > 512) return { error: `The value of "${name}" is longer than 512 characters.` };
    if (name in metadata) return { error: `The key "${name}" is used twice.` };
    metadata[name] = String(value);
  }
  return { value: metadata };
}

/** The API body for the form's values, or the errors by field (`name`, `model`, `functions`, `temperature`,
 * `top_p`, `response_format`, `metadata`, `tool_resources`): `{body, errors}`, `errors` empty when it may be sent.
 * An update (`creating` false) sends every field so that cleared ones clear, except numbers left blank (the API
 * ignores a null there). */
export function toBody(values, { creating = true } = {}) {
  const errors = {};
  const body = {};
  const model = values.model.trim();
  if (model) body.model = model;
  else if (creating) errors.model = 'Pick or type a model.';
  if (values.name.length > 256) errors.name = 'The name is longer than 256 characters.';
  if (values.description.length > 512) errors.description = 'The description is longer than 512 characters.';
  for (const field of ['name', 'description', 'instructions']) {
    const text = values[field];
    if (text.trim()) body[field] = text;
    else if (!creating) body[field] = null;
  }

  const functions = parseFunctions(values.functions);
  if (functions.error) errors.functions = functions.error;
  const tools = [];
  if (values.codeInterpreter) tools.push({ type: 'code_interpreter' });
  if (values.fileSearch) tools.push({ type: 'file_search' });
  for (const definition of functions.functions || []) tools.push({ type: 'function', function: definition });
  if (tools.length || !creating) body.tools = tools;

  for (const [field, key, high, label] of [['temperature', 'temperature', 2, 'Temperature'], ['topP', 'top_p', 1, 'Top P']]) {
    const number = parseNumber(values[field], 0, high, label);
    if (number.error) errors[key] = number.error;
    else if (number.value !== null) body[key] = number.value;
  }

  const format = parseResponseFormat(values.responseFormat, values.jsonSchema);
  if (format.error) errors.response_format = format.error;
  else if (format.value !== 'auto' || !creating) body.response_format = format.value;

  const metadata = parseMetadata(values.metadata);
  if (metadata.error) errors.metadata = metadata.error;
  else if (Object.keys(metadata.value).length || !creating) body.metadata = metadata.value;

  if (values.codeFileIds.length > MAX_CODE_FILES) errors.tool_resources = `At most ${MAX_CODE_FILES} code interpreter files.`;
  else if (values.vectorStoreIds.length > 1) errors.tool_resources = 'An assistant searches one vector store at most.';
  else {
    const resources = {};
    if (values.codeFileIds.length || !creating) resources.code_interpreter = { file_ids: [...values.codeFileIds] };
    if (values.vectorStoreIds.length || !creating) resources.file_search = { vector_store_ids: [...values.vectorStoreIds] };
    if (Object.keys(resources).length) body.tool_resources = resources;
  }
  return { body, errors };
}

/** The form field a server error's `param` names (`tools[2].function.name` -> `functions`), or null. */
export function fieldForParam(param) {
  if (!param) return null;
  const head = /^[a-z_]+/.exec(param);
  if (!head) return null;
  if (head[0] === 'tools') return /function/.test(param) ? 'functions' : 'tools';
  const known = ['name', 'description', 'model', 'instructions', 'temperature', 'top_p', 'response_format',
    'metadata', 'tool_resources'];
  return known.includes(head[0]) ? head[0] : null;
}
