// Cards for a run step's tool calls, shared by the live thread view and the run detail view. Each builder takes a
// tool call as the API gives it (`step_details.tool_calls[i]`, or the same shape folded from stream deltas) and
// returns a fresh DOM node, so a live view can rebuild a card whenever its call grows.

import { fileUrl } from '../lib/api.js';
import { h } from '../lib/dom.js';

function head(kind, call, ...extra) {
  return h('div', { class: 'tool-head' }, h('span', null, kind), ...extra,
    call.id ? h('span', { class: 'sub' }, call.id) : null);
}

function pretty(text) {
  // Function arguments and outputs are usually JSON: indented they read better; anything else stays as it came.
  if (typeof text !== 'string' || !text.trim()) return text || '';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** An image output of code_interpreter: the file's bytes come with the key, so the <img> gets a blob: URL later. */
function imageOutput(fileId) {
  const note = h('span', { class: 'muted' }, `image ${fileId}`);
  // Once shown, the image no longer needs its blob: a card rebuilt as its call grows fetches the image again.
  const img = h('img', { alt: `Image output ${fileId}`, class: 'tool-image', onload: () => URL.revokeObjectURL(img.src) });
  fileUrl(fileId)
    .then((src) => { img.src = src; note.remove(); })
    .catch((error) => { note.textContent = `image ${fileId}: ${error.message}`; img.remove(); });
  return h('figure', { class: 'tool-output' }, img, note);
}

/** A code_interpreter call: its code and what came out (logs, images). */
export function codeCard(call) {
  const body = call.code_interpreter || {};
  const outputs = body.outputs || [];
  return h('div', { class: 'tool code-card', 'data-testid': 'code-card' },
    head('code_interpreter', call),
    h('pre', { class: 'code-input', 'aria-label': 'Code' }, h('code', null, body.input || '')),
    outputs.length ? h('div', { class: 'muted tool-label' }, 'output') : null,
    outputs.map((output) => {
      if (output.type === 'logs') return h('pre', { class: 'logs', 'aria-label': 'Output' }, output.logs || '');
      if (output.type === 'image' && output.image) return imageOutput(output.image.file_id);
      return h('pre', { class: 'logs' }, JSON.stringify(output, null, 2));
    }));
}

/** A file_search call: each result with its file, score and (when the steps were read with `include[]`) content. */
export function fileSearchCard(call) {
  const body = call.file_search || {};
  const results = body.results || [];
  const ranking = body.ranking_options;
  return h('div', { class: 'tool file-search-card', 'data-testid': 'file-search-card' },
    head('file_search', call,
      ranking ? h('span', { class: 'sub' }, `ranker ${ranking.ranker}, threshold ${ranking.score_threshold}`) : null),
    results.length
      ? h('ol', { class: 'search-results' }, results.map((result) => h('li', null,
        h('div', { class: 'row' },
          h('strong', null, result.file_name || result.file_id),
          result.file_name ? h('span', { class: 'sub' }, result.file_id) : null,
          h('span', { class: 'spacer' }),
          h('span', { class: 'badge', title: 'score' }, typeof result.score === 'number' ? result.score.toFixed(3) : '–')),
        (result.content || []).map((part) => h('pre', { class: 'logs' }, part.text || '')))))
      : h('p', { class: 'muted' }, 'No results.'));
}

/** A function call: name, arguments, and the output submitted for it (none while the run waits for it). */
export function functionCard(call) {
  const body = call.function || {};
  return h('div', { class: 'tool function-card', 'data-testid': 'function-card' },
    head('function', call, h('code', null, body.name || '')),
    h('div', { class: 'muted tool-label' }, 'arguments'),
    h('pre', { class: 'logs', 'aria-label': 'Arguments' }, pretty(body.arguments)),
    h('div', { class: 'muted tool-label' }, 'output'),
    body.output === null || body.output === undefined
      ? h('p', { class: 'muted' }, 'No output yet.')
      : h('pre', { class: 'logs', 'aria-label': 'Function output' }, pretty(body.output)));
}

/** The card for any tool call, by its type. */
export function toolCallCard(call) {
  if (call.type === 'code_interpreter') return codeCard(call);
  if (call.type === 'file_search') return fileSearchCard(call);
  if (call.type === 'function') return functionCard(call);
  return h('div', { class: 'tool' }, head(call.type || 'tool call', call), h('pre', null, JSON.stringify(call, null, 2)));
}
