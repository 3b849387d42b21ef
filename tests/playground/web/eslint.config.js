// ESLint for the playground's ES modules. Run from the repository root with `--config` (tests/playground/test_js.py
// does), so the patterns below are relative to the root.
//
// The page is served with a strict Content-Security-Policy (no inline script or style, no eval) and renders text
// from the model, users and the API: the rules below forbid every way of parsing a string as HTML or code, so the
// only way to put something on the page is lib/dom.js's h() and text nodes.

import js from '@eslint/js';
import globals from 'globals';

const HTML_SINKS = ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'createContextualFragment', 'setHTMLUnsafe'];
const NO_HTML = 'builds markup from a string; build nodes with h() from lib/dom.js and textContent';

const restrictedProperties = [
  ...HTML_SINKS.map((property) => ({ property, message: `${property} ${NO_HTML}` })),
  { object: 'document', property: 'write', message: `document.write ${NO_HTML}` },
  { object: 'document', property: 'writeln', message: `document.writeln ${NO_HTML}` },
  { object: 'window', property: 'eval', message: 'eval runs a string as code (and the CSP blocks it)' },
  { object: 'globalThis', property: 'eval', message: 'eval runs a string as code (and the CSP blocks it)' },
];

const restrictedSyntax = [
  { selector: "CallExpression[callee.name='eval']", message: 'eval runs a string as code (and the CSP blocks it)' },
  { selector: "NewExpression[callee.name='Function']", message: 'the Function constructor runs a string as code' },
  { selector: "CallExpression[callee.name='Function']", message: 'the Function constructor runs a string as code' },
  {
    // h('div', {style: ...}) becomes a style attribute, which the CSP (style-src 'self') drops.
    selector: "CallExpression[callee.name=/^(h|svg)$/] > ObjectExpression > Property[key.name='style']",
    message: 'the CSP blocks style attributes: use a class, or el.style.width = ... (the CSSOM) after h()',
  },
  {
    selector: "CallExpression[callee.property.name='setAttribute'][arguments.0.value=/^(style|on.*)$/i]",
    message: 'the CSP blocks style attributes and inline handlers: use a class or addEventListener',
  },
];

const strict = {
  'no-restricted-properties': ['error', ...restrictedProperties],
  'no-restricted-syntax': ['error', ...restrictedSyntax],
  'no-eval': 'error',
  'no-implied-eval': 'error',
  'no-new-func': 'error',
  'no-var': 'error',
  'prefer-const': 'error',
  eqeqeq: ['error', 'always', { null: 'ignore' }],
};

export default [
  {
    files: ['orchestrator/playground/static/**/*.js'],
    ...js.configs.recommended,
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: globals.browser },
    rules: { ...js.configs.recommended.rules, ...strict },
  },
  {
    files: ['tests/playground/web/**/*.{js,mjs}'],
    ...js.configs.recommended,
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: globals.node },
    rules: { ...js.configs.recommended.rules, ...strict },
  },
];
