// One run, live: its stream's events folded by lib/runstate.js and drawn as they come (text as it arrives, tool calls
// as cards), a Cancel button while it runs, a form for the function outputs when it waits for them, and what went
// wrong in an alert. Only the parts an event changed are drawn again, so a form being filled in stays as it is.

import { ApiError, post, stream } from '../lib/api.js';
import { badge, h, mount } from '../lib/dom.js';
import { ACTIVE, applyEvent, createRunState, isFinished, pendingCalls, problem } from '../lib/runstate.js';
import { messageBubble } from './bubble.js';
import { toolCallCard } from './cards.js';

function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text || '';
  }
}

function usageText(usage) {
  if (!usage) return '';
  return `tokens: ${usage.prompt_tokens} prompt · ${usage.completion_tokens} completion · ${usage.total_tokens} total`;
}

export class LiveRun {
  /** `onEnd(state)` is called once when the run has ended (or its stream broke); `onChange(state)` after each draw. */
  constructor(threadId, { assistantName, onEnd, onChange } = {}) {
    this.threadId = threadId;
    this.assistantName = assistantName;
    this.onEnd = onEnd || (() => {});
    this.onChange = onChange || (() => {});
    this.state = createRunState();
    this.controller = new AbortController();
    this.following = false; // true: events come from GET .../events, which goes on through requires_action
    this.drawn = new Map(); // entry key -> {node, rev, cards: [{node, rev}]}
    this.formFor = null;
    this.scheduled = false;
    this.ended = false;

    this.status = h('span', { 'data-testid': 'run-status' });
    this.runLink = h('a', { class: 'sub run-id' });
    this.usage = h('span', { class: 'muted run-usage', 'data-testid': 'run-usage' });
    this.cancel = h('button', { type: 'button', class: 'danger', onclick: () => this.cancelRun() }, 'Cancel');
    this.cancel.hidden = true;
    this.items = h('div', { class: 'run-items' });
    this.form = h('div', { class: 'tool-outputs' });
    this.alert = h('p', { class: 'error', role: 'alert' });
    this.el = h('section', { class: 'live-run', 'data-testid': 'live-run', 'aria-live': 'polite' },
      h('div', { class: 'row live-run-head' }, h('span', { class: 'muted' }, 'Run'), this.runLink, this.status, this.usage,
        h('span', { class: 'spacer' }), this.cancel),
      this.items, this.form, this.alert);
    this.status.append(badge('queued'));
  }

  /** Stops reading the stream (the run itself goes on on the server). */
  stop() {
    this.controller.abort();
  }

  get runId() {
    return this.state.run ? this.state.run.id : null;
  }

  /** Starts a run with `body` (stream: true) and follows it. */
  start(body) {
    return this.read('POST', `/threads/${encodeURIComponent(this.threadId)}/runs`, { ...body, stream: true });
  }

  /** Follows a run already going, from its first event, through the run's event log. */
  follow(run) {
    this.following = true;
    applyEvent(this.state, `thread.run.${run.status}`, run);
    this.draw();
    return this.read('GET', `/threads/${encodeURIComponent(this.threadId)}/runs/${encodeURIComponent(run.id)}/events`);
  }

  async read(method, path, body) {
    try {
      await stream(method, path, {
        body,
        signal: this.controller.signal,
        onEvent: (name, data) => {
          applyEvent(this.state, name, data);
          this.schedule();
        },
      });
    } catch (error) {
      if (this.controller.signal.aborted) return;
      this.state.error = { message: error instanceof ApiError ? error.message : `The stream broke: ${error.message}` };
    }
    if (this.controller.signal.aborted) return;
    this.draw();
    // A `stream: true` response ends at requires_action: the form's submit streams on. Anything else is the end.
    if (this.state.status !== 'requires_action' || this.state.error) this.finish();
  }

  finish() {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(this.state);
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    // One draw per frame however many events a network read brought.
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.draw();
    });
  }

  draw() {
    const { state } = this;
    // A person reading along at the bottom of the page stays there as the answer grows; one who scrolled up is left
    // where they are.
    const page = document.scrollingElement;
    const following = page && page.scrollHeight - page.scrollTop - page.clientHeight < 80;
    if (state.status) mount(this.status, badge(state.status));
    if (this.runId && !this.runLink.textContent) {
      this.runLink.textContent = this.runId;
      this.runLink.href = `#/threads/${encodeURIComponent(this.threadId)}/runs/${encodeURIComponent(this.runId)}`;
    }
    this.usage.textContent = usageText(state.usage);
    this.cancel.hidden = !this.runId || !ACTIVE.has(state.status) || state.status === 'cancelling';
    for (const entry of state.entries) this.drawEntry(entry);
    this.drawForm();
    this.alert.textContent = problem(state) || '';
    if (following && this.el.isConnected) page.scrollTop = page.scrollHeight;
    this.onChange(state);
  }

  drawEntry(entry) {
    const key = `${entry.kind}:${entry.id}`;
    let drawn = this.drawn.get(key);
    if (!drawn) {
      drawn = { node: h('div', { class: entry.kind === 'tools' ? 'tool-calls' : 'run-message' }), rev: -1, cards: [] };
      this.drawn.set(key, drawn);
      this.items.append(drawn.node);
    }
    if (entry.kind === 'message') {
      const message = this.state.messages.get(entry.id);
      if (message.rev === drawn.rev) return;
      drawn.rev = message.rev;
      mount(drawn.node, messageBubble(message, { label: this.assistantName }));
      return;
    }
    const step = this.state.steps.get(entry.id);
    if (step.rev === drawn.rev) return;
    drawn.rev = step.rev;
    for (const [at, call] of step.tool_calls.entries()) {
      if (!call) continue;
      const card = drawn.cards[at];
      const rev = step.callRevs[at];
      if (card && card.rev === rev) continue;
      const node = toolCallCard(call);
      if (card) card.node.replaceWith(node);
      else drawn.node.append(node);
      drawn.cards[at] = { node, rev };
    }
  }

  drawForm() {
    const calls = pendingCalls(this.state);
    const key = calls.map((call) => call.id).join(',');
    if (key === this.formFor) return;
    this.formFor = key;
    if (!calls.length) {
      mount(this.form);
      return;
    }
    const outputs = calls.map((call) => h('textarea', { class: 'code', name: `output-${call.id}`, required: true,
      placeholder: '{"result": ...}', 'aria-label': `Output of ${call.function.name}` }));
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Submit outputs');
    const formProblem = h('p', { class: 'error', role: 'alert' });
    mount(this.form, h('form', { class: 'card tool-output-form', 'data-testid': 'tool-output-form', onsubmit: (event) => {
      event.preventDefault();
      submit.disabled = true;
      this.submitOutputs(calls.map((call, at) => ({ tool_call_id: call.id, output: outputs[at].value })), formProblem)
        .finally(() => { submit.disabled = false; });
    } },
    h('h3', null, 'The run waits for your function outputs'),
    calls.map((call, at) => h('fieldset', { class: 'output-call' },
      h('legend', null, h('code', null, call.function.name), h('span', { class: 'sub' }, ` ${call.id}`)),
      h('pre', { class: 'logs', 'aria-label': `Arguments of ${call.function.name}` }, prettyJson(call.function.arguments)),
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, `Output of ${call.function.name}`), outputs[at]))),
    h('div', { class: 'row' }, submit), formProblem));
    outputs[0].focus();
  }

  async submitOutputs(toolOutputs, formProblem) {
    const path = `/threads/${encodeURIComponent(this.threadId)}/runs/${encodeURIComponent(this.runId)}/submit_tool_outputs`;
    try {
      if (this.following) {
        // The follower goes on through requires_action: it shows what comes next.
        await post(path, { tool_outputs: toolOutputs });
      } else {
        mount(this.form);
        this.formFor = null;
        await this.read('POST', path, { tool_outputs: toolOutputs, stream: true });
      }
    } catch (error) {
      formProblem.textContent = error.message;
    }
  }

  async cancelRun() {
    this.cancel.disabled = true;
    try {
      const run = await post(`/threads/${encodeURIComponent(this.threadId)}/runs/${encodeURIComponent(this.runId)}/cancel`);
      // The stream says `cancelling` and then `cancelled` on its own; a run waiting for outputs has no open stream.
      if (!isFinished(this.state)) {
        applyEvent(this.state, `thread.run.${run.status}`, run);
        this.draw();
        if (isFinished(this.state)) this.finish();
      }
    } catch (error) {
      this.alert.textContent = `Cancel failed: ${error.message}`;
    } finally {
      this.cancel.disabled = false;
    }
  }
}
