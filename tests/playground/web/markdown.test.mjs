import assert from 'node:assert/strict';
import { test } from 'node:test';

import { build, parse, safeHref } from '../../../orchestrator/playground/static/lib/markdown.js';

// A builder that records what the page's `h` would be asked to make.
const make = (tag, props, ...children) => ({ tag, props, children: children.flat(Infinity) });

const text = (value) => ({ type: 'text', text: value });

test('paragraphs, line breaks and headings', () => {
  assert.deepEqual(parse('# Title\n\nfirst line\nsecond line\n\n### Sub ###'), [
    { type: 'heading', level: 1, children: [text('Title')] },
    { type: 'paragraph', children: [text('first line'), { type: 'break' }, text('second line')] },
    { type: 'heading', level: 3, children: [text('Sub')] },
  ]);
});

test('bold, italic and inline code, with snake_case and lone stars left alone', () => {
  assert.deepEqual(parse('**bold** and *it* and __b__ _i_ `a * b`'), [{
    type: 'paragraph',
    children: [
      { type: 'strong', children: [text('bold')] }, text(' and '), { type: 'em', children: [text('it')] },
      text(' and '), { type: 'strong', children: [text('b')] }, text(' '), { type: 'em', children: [text('i')] },
      text(' '), { type: 'code', text: 'a * b' },
    ],
  }]);
  assert.deepEqual(parse('snake_case_name and 3 * 1.0 + 11 * 2'), [{
    type: 'paragraph', children: [text('snake_case_name and 3 * 1.0 + 11 * 2')],
  }]);
  assert.deepEqual(parse('*emphasis with **strong** inside*')[0].children, [{
    type: 'em', children: [text('emphasis with '), { type: 'strong', children: [text('strong')] }, text(' inside')],
  }]);
});

test('fenced code keeps its text verbatim, an unclosed fence runs to the end (text still streaming)', () => {
  assert.deepEqual(parse('Run:\n```python\nx = (c - b) / a\nprint(**x**)\n```\nafter'), [
    { type: 'paragraph', children: [text('Run:')] },
    { type: 'code', lang: 'python', text: 'x = (c - b) / a\nprint(**x**)' },
    { type: 'paragraph', children: [text('after')] },
  ]);
  assert.deepEqual(parse('~~~\n<b>not html</b>'), [{ type: 'code', text: '<b>not html</b>' }]);
});

test('lists: bullets, numbers with their start, nested items, lazy continuation', () => {
  const tree = parse('- one\n- two\n  - inner\n- three\ncontinued\n\n3. c\n4. d');
  assert.deepEqual(tree, [
    {
      type: 'list', ordered: false, items: [
        [{ type: 'paragraph', children: [text('one')] }],
        [
          { type: 'paragraph', children: [text('two')] },
          { type: 'list', ordered: false, items: [[{ type: 'paragraph', children: [text('inner')] }]] },
        ],
        [{ type: 'paragraph', children: [text('three'), { type: 'break' }, text('continued')] }],
      ],
    },
    {
      type: 'list', ordered: true, start: 3, items: [
        [{ type: 'paragraph', children: [text('c')] }],
        [{ type: 'paragraph', children: [text('d')] }],
      ],
    },
  ]);
});

test('links keep only http, https and mailto addresses', () => {
  assert.deepEqual(parse('[docs](https://example.com/a_(b)) and <mailto:a@b.c>')[0].children, [
    { type: 'link', href: 'https://example.com/a_(b)', children: [text('docs')] },
    text(' and '),
    { type: 'link', href: 'mailto:a@b.c', children: [text('mailto:a@b.c')] },
  ]);
  assert.deepEqual(parse('[click](javascript:alert(1)) [x](data:text/html,hi) [y](/relative)')[0].children, [
    text('click'), text(' '), text('x'), text(' '), text('y'),
  ]);
  assert.deepEqual(parse('see https://example.com/page.')[0].children, [
    text('see '), { type: 'link', href: 'https://example.com/page', children: [text('https://example.com/page')] }, text('.'),
  ]);
  assert.equal(safeHref(' JavaScript:alert(1)'), null);
  assert.equal(safeHref('java\nscript:alert(1)'), null);
  assert.equal(safeHref('HTTPS://example.com'), 'HTTPS://example.com');
});

test('raw HTML stays text', () => {
  assert.deepEqual(parse('<img src=x onerror=alert(1)> <script>alert(1)</script>'), [{
    type: 'paragraph', children: [text('<img src=x onerror=alert(1)> <script>alert(1)</script>')],
  }]);
});

test('escapes, quotes and rules', () => {
  assert.deepEqual(parse('\\*not italic\\*\n\n> quoted **text**\n\n---'), [
    { type: 'paragraph', children: [text('*not italic*')] },
    { type: 'quote', children: [{ type: 'paragraph', children: [text('quoted '), { type: 'strong', children: [text('text')] }] }] },
    { type: 'rule' },
  ]);
});

test('citation markers replace their ranges, even inside a link address', () => {
  const value = 'Paris is sunny【0:0†weather.txt】. Get [the file](sandbox:/mnt/data/out.csv).';
  const cite = value.indexOf('【');
  const path = value.indexOf('sandbox:');
  const tree = parse(value, { markers: [
    { start: cite, end: value.indexOf('】') + 1, label: 1 },
    { start: path, end: path + 'sandbox:/mnt/data/out.csv'.length, label: 2 },
  ] });
  assert.deepEqual(tree[0].children, [
    text('Paris is sunny'), { type: 'marker', label: 1 }, text('. Get '), text('the file'), { type: 'marker', label: 2 }, text('.'),
  ]);
  // Sentinel characters typed into the text cannot forge a marker.
  assert.deepEqual(parse('\uE0007\uE001')[0].children, [text('\uFFFD7\uFFFD')]);
});

test('build makes elements only from the tree, links only with safe addresses', () => {
  const nodes = build(parse('# Hi\n\n**x** [a](https://a.example) `c`[1]\n\n1. one'), make);
  assert.deepEqual(nodes, [
    { tag: 'h1', props: null, children: ['Hi'] },
    {
      tag: 'p', props: null, children: [
        { tag: 'strong', props: null, children: ['x'] }, ' ',
        { tag: 'a', props: { href: 'https://a.example', target: '_blank', rel: 'noopener noreferrer nofollow' }, children: ['a'] },
        ' ', { tag: 'code', props: null, children: ['c'] }, '[1]',
      ],
    },
    { tag: 'ol', props: null, children: [{ tag: 'li', props: null, children: [{ tag: 'p', props: null, children: ['one'] }] }] },
  ]);
  const forged = build([{ type: 'paragraph', children: [{ type: 'link', href: 'javascript:x', children: [text('t')] }] }], make);
  assert.deepEqual(forged, [{ tag: 'p', props: null, children: ['t'] }]);
});

test('brackets in a label pair up; unclosed delimiters in a long text stay text and cost linear time', () => {
  assert.deepEqual(parse('[a [b] c](https://x.example) [open')[0].children, [
    { type: 'link', href: 'https://x.example', children: [text('a [b] c')] }, text(' [open'),
  ]);
  const hostile = `${'['.repeat(20000)}${' *a'.repeat(20000)}`;
  const started = performance.now();
  const [paragraph] = parse(`${hostile}${' `b'.repeat(20001)}`);
  assert.ok(performance.now() - started < 1000, 'parsing took a second or more');
  const literal = paragraph.children.map((node) => node.text).join('');
  assert.ok(literal.startsWith(hostile), 'the brackets and stars did not stay as they were');
});
