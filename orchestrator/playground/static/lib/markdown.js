// Markdown for model and user text, rendered without ever parsing HTML: `parse` turns the text into a plain tree
// (paragraphs, headings, lists, quotes, fenced and inline code, bold, italic, links), `build` turns the tree into
// nodes with a builder such as dom.js's `h`. Raw HTML in the text stays text, and a link keeps its address only when
// it is http, https or mailto, so a model cannot smuggle a `javascript:` link or a tag into the page.
// Citation markers: `parse(text, {markers})` replaces each marked range of the text (an annotation's
// start_index..end_index) with a `{type: 'marker', label}` node, wherever the range falls.

const MARK_OPEN = '\uE000';
const MARK_CLOSE = '\uE001';
const MARK = /^\uE000(\d+)\uE001/;

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])([ \t]+|$)(.*)$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const BLANK = /^\s*$/;
const ESCAPABLE = '\\`*_{}[]()#+-.!>~|<';
const URL_AT = /^(?:https?:\/\/|mailto:)[^\s<>]*[^\s<>.,:;"'!?)\]]/i;
// How far an emphasis delimiter looks for its partner: each unclosed `*` of a long text would otherwise scan to its
// end (quadratic). Longer spans stay literal text.
const MAX_SPAN = 4000;

/** The address when it is one a person may follow (http, https, mailto), else null. */
export function safeHref(url) {
  const trimmed = String(url || '').trim();
  // Control characters and spaces never belong in a link; browsers strip some of them before reading the scheme.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f]/.test(trimmed)) return null;
  return /^(?:https?:\/\/|mailto:)/i.test(trimmed) ? trimmed : null;
}

function isStart(line) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line);
}

function indentOf(line) {
  const match = /^[ \t]*/.exec(line)[0];
  return match.replace(/\t/g, '    ').length;
}

function dedent(line, width) {
  let taken = 0;
  let at = 0;
  while (at < line.length && taken < width && (line[at] === ' ' || line[at] === '\t')) {
    taken += line[at] === '\t' ? 4 : 1;
    at += 1;
  }
  return line.slice(at);
}

function parseList(lines, start) {
  const first = ITEM.exec(lines[start]);
  const ordered = /\d/.test(first[2]);
  const kind = ordered ? first[2].slice(-1) : first[2];
  const items = [];
  let at = start;
  while (at < lines.length) {
    const match = ITEM.exec(lines[at]);
    if (!match) break;
    const sameKind = ordered ? /\d/.test(match[2]) && match[2].endsWith(kind) : match[2] === kind;
    if (!sameKind) break;
    const width = match[1].length + match[2].length + (match[3] ? Math.min(match[3].length, 4) : 1);
    const body = [match[4]];
    at += 1;
    while (at < lines.length) {
      const line = lines[at];
      if (BLANK.test(line)) {
        // A blank line ends the item unless the next text is indented under it.
        const next = lines.slice(at + 1).findIndex((l) => !BLANK.test(l));
        if (next < 0 || indentOf(lines[at + 1 + next]) < width) break;
        body.push('');
        at += 1;
      } else if (indentOf(line) >= width) {
        body.push(dedent(line, width));
        at += 1;
      } else if (!isStart(line) && !BLANK.test(body[body.length - 1])) {
        body.push(line.trim()); // a lazy continuation of the item's paragraph
        at += 1;
      } else {
        break;
      }
    }
    items.push(parseBlocks(body));
    while (at < lines.length && BLANK.test(lines[at])) {
      const next = lines.slice(at).findIndex((l) => !BLANK.test(l));
      if (next < 0 || !ITEM.test(lines[at + next])) break;
      at += next;
    }
  }
  const list = { type: 'list', ordered, items };
  if (ordered) list.start = Number.parseInt(first[2], 10);
  return { node: list, next: at };
}

function parseBlocks(lines) {
  const blocks = [];
  let at = 0;
  while (at < lines.length) {
    const line = lines[at];
    if (BLANK.test(line)) {
      at += 1;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const mark = fence[1];
      const code = [];
      const indent = indentOf(line);
      at += 1;
      // An unclosed fence runs to the end of the text: a message still streaming in has not closed it yet.
      while (at < lines.length && !new RegExp(`^ {0,3}${mark[0] === '`' ? '`' : '~'}{${mark.length},}\\s*$`).test(lines[at])) {
        code.push(dedent(lines[at], indent));
        at += 1;
      }
      at += 1;
      const node = { type: 'code', text: code.join('\n') };
      if (fence[2]) node.lang = fence[2];
      blocks.push(node);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      blocks.push({ type: 'heading', level: heading[1].length, children: parseInline(heading[2] || '') });
      at += 1;
      continue;
    }
    if (RULE.test(line)) {
      blocks.push({ type: 'rule' });
      at += 1;
      continue;
    }
    if (QUOTE.test(line)) {
      const quoted = [];
      while (at < lines.length && !BLANK.test(lines[at])) {
        const match = QUOTE.exec(lines[at]);
        quoted.push(match ? match[1] : lines[at]);
        at += 1;
      }
      blocks.push({ type: 'quote', children: parseBlocks(quoted) });
      continue;
    }
    if (ITEM.test(line)) {
      const { node, next } = parseList(lines, at);
      blocks.push(node);
      at = next;
      continue;
    }
    const paragraph = [line.trim()];
    at += 1;
    while (at < lines.length && !BLANK.test(lines[at]) && !isStart(lines[at])) {
      paragraph.push(lines[at].trim());
      at += 1;
    }
    blocks.push({ type: 'paragraph', children: parseInline(paragraph.join('\n')) });
  }
  return blocks;
}

function flanked(src, open, close, width) {
  // Emphasis needs text right inside its delimiters: `a * b * c` is not italic.
  return !/\s/.test(src[open + width] || ' ') && !/\s/.test(src[close - 1] || ' ');
}

function findClose(src, from, delim) {
  let at = from;
  const end = Math.min(src.length, from + MAX_SPAN);
  while (at < end) {
    const c = src[at];
    if (c === '\\') {
      at += 2;
      continue;
    }
    if (c === '`') {
      // Delimiters inside a code span do not count.
      const run = /^`+/.exec(src.slice(at))[0];
      const end = src.indexOf(run, at + run.length);
      at = end < 0 ? at + run.length : end + run.length;
      continue;
    }
    if (src.startsWith(delim, at)) {
      const word = /[\p{L}\p{N}]/u;
      const after = src[at + delim.length] || '';
      // `_` closes only at a word's end (snake_case stays as it is); `**x***` closes on the last run.
      if (delim[0] === '_' && word.test(after)) {
        at += 1;
        continue;
      }
      if (delim.length === 1 && src[at + 1] === delim) {
        at += 2;
        continue;
      }
      return at;
    }
    at += 1;
  }
  return -1;
}

/** Each `[`'s matching `]` (escapes skipped), in one pass: searching from every `[` was quadratic. */
function bracketPairs(src) {
  const pairs = new Map();
  const open = [];
  for (let i = 0; i < src.length; i += 1) {
    if (src[i] === '\\') i += 1;
    else if (src[i] === '[') open.push(i);
    else if (src[i] === ']' && open.length) pairs.set(open.pop(), i);
  }
  return pairs;
}

function parseLink(src, at, pairs) {
  // `[label](address "title")`, the label balanced in brackets.
  const close = pairs.has(at) ? pairs.get(at) : -1;
  if (close < 0) return null;
  const target = /^\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:"[^"\n]*"|'[^'\n]*'))?\s*\)/.exec(src.slice(close + 1));
  if (!target) return null;
  const url = target[1].startsWith('<') ? target[1].slice(1, -1) : target[1];
  return { label: src.slice(at + 1, close), url, end: close + 1 + target[0].length };
}

function parseInline(src) {
  const out = [];
  let text = '';
  const flush = () => {
    if (text) out.push({ type: 'text', text });
    text = '';
  };
  const unclosed = new Set(); // lengths of backtick runs, and emphasis delimiters, with no partner left in the text
  let pairs = null;
  let at = 0;
  while (at < src.length) {
    const c = src[at];
    const rest = src.slice(at);
    if (c === '\\' && ESCAPABLE.includes(src[at + 1] || '')) {
      text += src[at + 1];
      at += 2;
      continue;
    }
    if (c === '\\' && src[at + 1] === '\n') {
      flush();
      out.push({ type: 'break' });
      at += 2;
      continue;
    }
    if (c === '\n') {
      flush();
      out.push({ type: 'break' });
      at += 1;
      continue;
    }
    if (c === MARK_OPEN) {
      const mark = MARK.exec(rest);
      if (mark) {
        flush();
        out.push({ type: 'marker', label: Number(mark[1]) });
        at += mark[0].length;
        continue;
      }
    }
    if (c === '`') {
      const run = /^`+/.exec(rest)[0];
      const end = unclosed.has(run.length) ? -1 : src.indexOf(run, at + run.length);
      if (end < 0) unclosed.add(run.length);
      if (end >= 0 && src[end + run.length] !== '`') {
        flush();
        let code = src.slice(at + run.length, end).replace(/\n/g, ' ');
        if (/^ .*[^ ].* $/.test(code)) code = code.slice(1, -1);
        out.push({ type: 'code', text: code });
        at = end + run.length;
        continue;
      }
      text += run;
      at += run.length;
      continue;
    }
    if (c === '[') {
      pairs = pairs || bracketPairs(src);
      const link = parseLink(src, at, pairs);
      if (link) {
        flush();
        const children = parseInline(link.label);
        const href = safeHref(link.url);
        if (href) {
          out.push({ type: 'link', href, children });
        } else {
          // Not an address a person may follow: the label stays, and so does any marker the address held.
          out.push(...children, ...parseInline(link.url).filter((node) => node.type === 'marker'));
        }
        at = link.end;
        continue;
      }
    }
    if (c === '<') {
      const auto = /^<((?:https?:\/\/|mailto:)[^\s<>]+)>/i.exec(rest);
      if (auto && safeHref(auto[1])) {
        flush();
        out.push({ type: 'link', href: auto[1], children: [{ type: 'text', text: auto[1] }] });
        at += auto[0].length;
        continue;
      }
    }
    if ((c === 'h' || c === 'H' || c === 'm' || c === 'M') && !/[\p{L}\p{N}]/u.test(src[at - 1] || '')) {
      const bare = URL_AT.exec(rest);
      if (bare && safeHref(bare[0])) {
        flush();
        out.push({ type: 'link', href: bare[0], children: [{ type: 'text', text: bare[0] }] });
        at += bare[0].length;
        continue;
      }
    }
    if (c === '*' || c === '_') {
      const before = src[at - 1] || '';
      const opensWord = c === '_' && /[\p{L}\p{N}]/u.test(before);
      const double = src[at + 1] === c;
      if (!opensWord) {
        const width = double ? 2 : 1;
        const delim = c.repeat(width);
        const close = unclosed.has(delim) ? -1 : findClose(src, at + width, delim);
        if (close < 0 && src.length - at <= MAX_SPAN) unclosed.add(delim);
        if (close > at + width && flanked(src, at, close, width)) {
          flush();
          out.push({ type: double ? 'strong' : 'em', children: parseInline(src.slice(at + width, close)) });
          at = close + width;
          continue;
        }
      }
      const run = /^[*_]+/.exec(rest)[0];
      text += run;
      at += run.length;
      continue;
    }
    text += c;
    at += 1;
  }
  flush();
  return out;
}

/** Replaces each `{start, end, label}` range of `text` with a marker the inline parser turns into a marker node. */
function withMarkers(text, markers) {
  // The sentinels are private-use characters: any already in the text become U+FFFD first (same length, so the
  // ranges still point where they did).
  let out = text.replace(/[\uE000\uE001]/g, '\uFFFD');
  const sorted = [...(markers || [])]
    .filter((m) => Number.isInteger(m.start) && Number.isInteger(m.end) && m.start >= 0 && m.end >= m.start && m.end <= text.length)
    .sort((a, b) => b.start - a.start);
  let floor = text.length;
  for (const { start, end, label } of sorted) {
    if (end > floor) continue; // overlapping ranges: the later one wins
    out = `${out.slice(0, start)}${MARK_OPEN}${label}${MARK_CLOSE}${out.slice(end)}`;
    floor = start;
  }
  return out;
}

/** The text as a list of block nodes. `markers`: ranges `{start, end, label}` to show as citation markers. */
export function parse(text, { markers } = {}) {
  const source = withMarkers(String(text || ''), markers).replace(/\r\n?/g, '\n');
  return parseBlocks(source.split('\n'));
}

function buildInline(nodes, make) {
  return nodes.map((node) => {
    switch (node.type) {
      case 'text': return node.text;
      case 'break': return make('br', null);
      case 'code': return make('code', null, node.text);
      case 'strong': return make('strong', null, buildInline(node.children, make));
      case 'em': return make('em', null, buildInline(node.children, make));
      case 'marker': return make('sup', { class: 'cite', 'data-marker': String(node.label) }, `[${node.label}]`);
      case 'link': {
        const href = safeHref(node.href); // checked again: a tree may come from elsewhere than `parse`
        const children = buildInline(node.children, make);
        return href ? make('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, children) : children;
      }
      default: return '';
    }
  });
}

/** The nodes for a tree of `parse`, made with `make(tag, props, ...children)` (dom.js's `h` in the page). */
export function build(blocks, make) {
  return blocks.map((block) => {
    switch (block.type) {
      case 'paragraph': return make('p', null, buildInline(block.children, make));
      case 'heading': return make(`h${Math.min(6, Math.max(1, block.level))}`, null, buildInline(block.children, make));
      case 'code': return make('pre', null, make('code', block.lang ? { 'data-lang': block.lang } : null, block.text));
      case 'rule': return make('hr', null);
      case 'quote': return make('blockquote', null, build(block.children, make));
      case 'list': return make(block.ordered ? 'ol' : 'ul', block.ordered && block.start !== 1 ? { start: String(block.start) } : null,
        block.items.map((item) => make('li', null, build(item, make))));
      default: return '';
    }
  });
}

/** Markdown text straight to nodes. */
export function markdown(text, make, options) {
  return build(parse(text, options), make);
}
