// A Server-Sent Events decoder for fetch() bodies: EventSource cannot send the Authorization header.

/** Feeds text chunks in, yields `{event, data, id}` for each complete event; comment lines (keep-alives) are skipped. */
export class SseDecoder {
  constructor() {
    this.buffer = '';
    this.event = '';
    this.data = [];
    this.id = null;
    // A CR ended the last chunk: an LF opening the next one belongs to it (one CRLF line end, not an empty line).
    this.pendingLf = false;
  }

  /** The events completed by `chunk` (a string), in order. */
  push(chunk) {
    if (this.pendingLf && chunk) {
      this.pendingLf = false;
      if (chunk.startsWith('\n')) chunk = chunk.slice(1);
    }
    this.buffer += chunk;
    const out = [];
    let newline;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith('\r\n', newline) ? 2 : 1;
      if (width === 1 && newline === this.buffer.length - 1 && this.buffer[newline] === '\r') this.pendingLf = true;
      this.buffer = this.buffer.slice(newline + width);
      const done = this.line(line);
      if (done) out.push(done);
    }
    return out;
  }

  line(line) {
    if (line === '') {
      if (!this.data.length && !this.event) return null;
      const done = { event: this.event || 'message', data: this.data.join('\n'), id: this.id };
      this.event = '';
      this.data = [];
      return done;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'event') this.event = value;
    else if (name === 'data') this.data.push(value);
    else if (name === 'id') this.id = value;
    return null;
  }
}

/** Reads an SSE response body, calling `onEvent(name, data)` with `data` parsed as JSON when it is JSON. */
export async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const decoder = new SseDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const { event, data, id } of decoder.push(value)) {
      if (data === '[DONE]') return;
      let parsed = data;
      try {
        parsed = JSON.parse(data);
      } catch {
        // not JSON (`event: done` carries `[DONE]`): passed on as text
      }
      onEvent(event, parsed, id);
    }
  }
}
