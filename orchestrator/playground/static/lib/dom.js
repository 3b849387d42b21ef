// Building the page's DOM. Every string becomes a text node or an attribute value: nothing from the model, a user
// or the API is ever parsed as HTML (no innerHTML anywhere in the playground).

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(parent, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const item of child) append(parent, item);
  } else if (child instanceof Node) {
    parent.appendChild(child);
  } else {
    parent.appendChild(document.createTextNode(String(child)));
  }
}

function assign(element, props) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'class') {
      element.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    } else if (name === 'value' && 'value' in element) {
      element.value = value;
    } else if (name === 'checked' || name === 'selected' || name === 'disabled') {
      element[name] = Boolean(value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
}

/** `h('button', {class: 'primary', onclick}, 'Save')`: an element with its attributes, listeners and children. */
export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  assign(element, props);
  append(element, children);
  return element;
}

/** The same for SVG elements (charts). */
export function svg(tag, props, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  assign(element, props);
  append(element, children);
  return element;
}

/** Replace everything in `parent` with `children`. */
export function mount(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
  return parent;
}

/** A labelled form field: `field('Name', h('input', {name: 'name'}))`. */
export function field(label, control, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), control,
    hint ? h('span', { class: 'field-hint' }, hint) : null);
}

/** Seconds since the epoch, as the page shows times. */
export function when(seconds) {
  if (!seconds) return '–';
  return new Date(seconds * 1000).toLocaleString();
}

/** A short status badge whose class follows the status (queued, in_progress, completed...). */
export function badge(status) {
  return h('span', { class: `badge status-${status}`, 'data-status': status }, status);
}
