// A run's per-run overrides (the composer's "Run options") checked and turned into the body of POST .../runs.
// Pure: the view reads the fields, this says what to send or what is wrong with which field, and nothing is sent
// while anything is wrong.

const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The functions field (a JSON array of function definitions, bare or `{type: 'function', function: {...}}`) as run
 * tools, or `{error}` saying what is wrong. An empty field means no functions. */
export function parseFunctions(source) {
  const text = String(source || '').trim();
  if (!text) return { tools: [] };
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { error: `Not JSON: ${error.message}` };
  }
  if (!Array.isArray(parsed)) return { error: 'Expected a JSON array of function definitions: [{"name": ..., "parameters": {...}}]' };
  const tools = [];
  for (const [at, item] of parsed.entries()) {
    const definition = isObject(item) && item.type === 'function' && isObject(item.function) ? item.function : item;
    if (!isObject(definition)) return { error: `Item ${at + 1} is not an object.` };
    if (typeof definition.name !== 'string' || !FUNCTION_NAME.test(definition.name)) {
      return { error: `Item ${at + 1} needs a "name" of 1-64 letters, digits, _ or -.` };
    }
    if (definition.parameters !== undefined && !isObject(definition.parameters)) {
      return { error: `Item ${at + 1}: "parameters" must be a JSON Schema object.` };
    }
    tools.push({ type: 'function', function: definition });
  }
  return { tools };
}

/** The body of POST /threads/{id}/runs from the composer's fields, or `{errors: {field: message}}`.
 * Empty fields are left out, so the assistant's own instructions, model and tools apply; `noTools` runs with none
 * (`tools: []`), whatever the assistant has. */
export function runRequest({ assistantId, instructions, additionalInstructions, model, codeInterpreter, fileSearch, functions, noTools }) {
  const errors = {};
  if (!assistantId) errors.assistant = 'Choose an assistant first.';
  const parsed = noTools ? { tools: [] } : parseFunctions(functions);
  if (parsed.error) errors.functions = parsed.error;
  if (Object.keys(errors).length) return { errors };
  const body = { assistant_id: assistantId };
  if (instructions && instructions.trim()) body.instructions = instructions;
  if (additionalInstructions && additionalInstructions.trim()) body.additional_instructions = additionalInstructions;
  if (model && model.trim()) body.model = model.trim();
  if (noTools) {
    body.tools = [];
    return { body };
  }
  const tools = [];
  if (codeInterpreter) tools.push({ type: 'code_interpreter' });
  if (fileSearch) tools.push({ type: 'file_search' });
  tools.push(...parsed.tools);
  if (tools.length) body.tools = tools;
  return { body };
}
