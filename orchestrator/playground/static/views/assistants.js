// Placeholder: the assistants view is being written.
import { h, mount } from '../lib/dom.js';

export function render(root) {
  mount(root, h('p', { class: 'muted' }, 'This view is not written yet.'));
}
