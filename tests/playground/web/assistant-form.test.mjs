import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  emptyForm, fieldForParam, formFromAssistant, jsonErrorAt, parseFunctions, parseJson, toBody,
} from '../../../orchestrator/playground/static/lib/assistant-form.js';

const form = (changes) => ({ ...emptyForm(), model: 'gpt-4-turbo', ...changes });

test('the seed Math Tutor becomes the body the quickstart sends', () => {
  const { body, errors } = toBody(form({
    name: 'Math Tutor',
    instructions: 'You are a personal math tutor. Write and run code to answer math questions.',
    codeInterpreter: true,
  }));
  assert.deepEqual(errors, {});
  assert.deepEqual(body, {
    model: 'gpt-4-turbo',
    name: 'Math Tutor',
    instructions: 'You are a personal math tutor. Write and run code to answer math questions.',
    tools: [{ type: 'code_interpreter' }],
  });
});

test('a new assistant needs a model', () => {
  assert.equal(toBody(emptyForm()).errors.model, 'Pick or type a model.');
  assert.equal(toBody(emptyForm(), { creating: false }).errors.model, undefined);
});

test('an update sends cleared fields so that they clear, but not blank numbers', () => {
  const { body, errors } = toBody(form({ temperature: ' ' }), { creating: false });
  assert.deepEqual(errors, {});
  assert.deepEqual(body, {
    model: 'gpt-4-turbo', name: null, description: null, instructions: null, tools: [], response_format: 'auto',
    metadata: {}, tool_resources: { code_interpreter: { file_ids: [] }, file_search: { vector_store_ids: [] } },
  });
});

test('JSON syntax errors name the line and column', () => {
  const text = '[\n  {"name": "get_weather",}\n]';
  const result = parseFunctions(text);
  assert.equal(result.error, 'JSON syntax error at line 2, column 26: Expected double-quoted property name');
  assert.deepEqual([result.line, result.column], [2, 26]);
  assert.deepEqual(jsonErrorAt('[1,', new SyntaxError('Unexpected end of JSON input')), { line: 1, column: 4 });
  assert.deepEqual(jsonErrorAt('x', new SyntaxError('JSON.parse: bad at line 3 column 9 of the JSON data')),
    { line: 3, column: 9 });
  assert.equal(parseJson('{"a": 1}').value.a, 1);
});

test('both shapes of function definitions are read, the OpenAI one unwrapped', () => {
  const weather = { name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: {} } };
  const plain = parseFunctions(JSON.stringify([weather]));
  const wrapped = parseFunctions(JSON.stringify([{ type: 'function', function: weather }]));
  assert.deepEqual(plain, { functions: [weather] });
  assert.deepEqual(wrapped, { functions: [weather] });
  assert.deepEqual(parseFunctions('  '), { functions: [] });
  const { body } = toBody(form({ functions: JSON.stringify([weather]), fileSearch: true }));
  assert.deepEqual(body.tools, [{ type: 'file_search' }, { type: 'function', function: weather }]);
});

test('invalid function definitions are refused with the reason', () => {
  const cases = [
    ['[{"description": "no name"}]', /Function 1: name must be .* \(it is missing\)/],
    ['[{"name": "has space"}]', /Function 1: name must be .*got "has space"/],
    [`[{"name": "${'a'.repeat(65)}"}]`, /name must be 1-64 characters/],
    ['[{"name": "ok"}, {"name": "f", "parameters": []}]', /Function 2 \(f\): parameters must be a JSON Schema object/],
    ['[{"name": "f", "parameters": "x"}]', /parameters must be a JSON Schema object/],
    ['[{"name": "f"}, {"name": "f"}]', /used twice/],
    ['[{"type": "code_interpreter"}]', /type must be "function"/],
    ['[{"name": "f", "argz": {}}]', /unknown key "argz"/],
    ['[3]', /Function 1: expected an object/],
  ];
  for (const [text, expected] of cases) {
    const { error } = parseFunctions(text);
    assert.match(error, expected, text);
    assert.match(toBody(form({ functions: text })).errors.functions, expected);
  }
});

test('temperature and top_p are checked against their ranges', () => {
  assert.deepEqual(toBody(form({ temperature: '0.7', topP: '1' })).body.temperature, 0.7);
  assert.equal(toBody(form({ temperature: '2.5' })).errors.temperature, 'Temperature must be a number from 0 to 2.');
  assert.equal(toBody(form({ topP: '-0.1' })).errors.top_p, 'Top P must be a number from 0 to 1.');
  assert.equal(toBody(form({ topP: 'abc' })).errors.top_p, 'Top P must be a number from 0 to 1.');
});

test('response formats', () => {
  assert.equal(toBody(form({})).body.response_format, undefined);
  assert.deepEqual(toBody(form({ responseFormat: 'json_object' })).body.response_format, { type: 'json_object' });
  const schema = { name: 'answer', schema: { type: 'object' }, strict: true };
  assert.deepEqual(toBody(form({ responseFormat: 'json_schema', jsonSchema: JSON.stringify(schema) })).body.response_format,
    { type: 'json_schema', json_schema: schema });
  assert.match(toBody(form({ responseFormat: 'json_schema', jsonSchema: '{"schema": {}}' })).errors.response_format, /name/);
  assert.match(toBody(form({ responseFormat: 'json_schema', jsonSchema: '{' })).errors.response_format, /line 1, column 2/);
});

test('metadata rows: blank rows skipped, at most 16, keys unique and present', () => {
  assert.deepEqual(toBody(form({ metadata: [['team', 'math'], ['', '']] })).body.metadata, { team: 'math' });
  const many = Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']);
  assert.equal(toBody(form({ metadata: many })).errors.metadata, 'At most 16 metadata keys.');
  assert.match(toBody(form({ metadata: [['a', '1'], ['a', '2']] })).errors.metadata, /used twice/);
  assert.match(toBody(form({ metadata: [['', 'orphan']] })).errors.metadata, /no key/);
});

test('tool resources', () => {
  const { body } = toBody(form({ codeFileIds: ['file-1'], vectorStoreIds: ['vs_1'] }));
  assert.deepEqual(body.tool_resources, { code_interpreter: { file_ids: ['file-1'] }, file_search: { vector_store_ids: ['vs_1'] } });
  assert.match(toBody(form({ vectorStoreIds: ['vs_1', 'vs_2'] })).errors.tool_resources, /one vector store/);
});

test('an assistant from the API round-trips through the form', () => {
  const assistant = {
    id: 'asst_1', name: 'Helper', description: null, model: 'gpt-4o', instructions: 'Be brief.',
    tools: [{ type: 'code_interpreter' }, { type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
    temperature: 0.5, top_p: 1, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {} } },
    metadata: { a: 'b' }, tool_resources: { code_interpreter: { file_ids: ['file-1'] } },
  };
  const values = formFromAssistant(assistant);
  assert.equal(values.codeInterpreter, true);
  assert.equal(values.fileSearch, false);
  assert.deepEqual(values.metadata, [['a', 'b']]);
  const { body, errors } = toBody(values, { creating: false });
  assert.deepEqual(errors, {});
  assert.deepEqual(body.tools, assistant.tools);
  assert.deepEqual(body.response_format, assistant.response_format);
  assert.equal(body.temperature, 0.5);
  assert.equal(body.description, null);
  assert.deepEqual(formFromAssistant({ model: 'm', response_format: 'auto' }).responseFormat, 'auto');
});

test('server error params point at fields', () => {
  assert.equal(fieldForParam('tools[1].function.name'), 'functions');
  assert.equal(fieldForParam('tools[0].type'), 'tools');
  assert.equal(fieldForParam('tool_resources.file_search.vector_store_ids'), 'tool_resources');
  assert.equal(fieldForParam('top_p'), 'top_p');
  assert.equal(fieldForParam('metadata'), 'metadata');
  assert.equal(fieldForParam(null), null);
  assert.equal(fieldForParam('stream'), null);
});
