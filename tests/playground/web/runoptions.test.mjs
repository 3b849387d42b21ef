import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseFunctions, runRequest } from '../../../orchestrator/playground/static/lib/runoptions.js';

test('empty options send only the assistant: its own instructions, model and tools apply', () => {
  assert.deepEqual(runRequest({ assistantId: 'asst_1', instructions: '  ', functions: '' }), { body: { assistant_id: 'asst_1' } });
});

test('overrides as the seed example sends them', () => {
  const { body } = runRequest({
    assistantId: 'asst_1',
    instructions: 'Please address the user as Jane Doe. The user has a premium account.',
    additionalInstructions: 'Be brief.',
    model: ' gpt-4-turbo ',
    codeInterpreter: true,
    fileSearch: true,
    functions: '[{"name": "get_weather", "parameters": {"type": "object"}}, {"type": "function", "function": {"name": "f2"}}]',
  });
  assert.deepEqual(body, {
    assistant_id: 'asst_1',
    instructions: 'Please address the user as Jane Doe. The user has a premium account.',
    additional_instructions: 'Be brief.',
    model: 'gpt-4-turbo',
    tools: [
      { type: 'code_interpreter' },
      { type: 'file_search' },
      { type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } },
      { type: 'function', function: { name: 'f2' } },
    ],
  });
});

test('bad functions JSON is reported on its field and nothing is sent', () => {
  const broken = runRequest({ assistantId: 'asst_1', functions: '[{"name": ' });
  assert.equal(broken.body, undefined);
  assert.match(broken.errors.functions, /^Not JSON: /);
  assert.match(parseFunctions('{"name": "x"}').error, /JSON array/);
  assert.match(parseFunctions('[{"name": "has space"}]').error, /Item 1 needs a "name"/);
  assert.match(parseFunctions('[{"name": "ok"}, 3]').error, /Item 2 is not an object/);
  assert.match(parseFunctions('[{"name": "ok", "parameters": []}]').error, /JSON Schema object/);
  assert.deepEqual(runRequest({ assistantId: '', functions: '' }).errors, { assistant: 'Choose an assistant first.' });
});

test('"no tools" runs with none, whatever else is ticked or typed', () => {
  const { body } = runRequest({
    assistantId: 'asst_1', codeInterpreter: true, functions: '[{"name": ', noTools: true,
  });
  assert.deepEqual(body, { assistant_id: 'asst_1', tools: [] });
});
