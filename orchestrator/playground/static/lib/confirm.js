// A destructive button that asks once more in place: the first click shows "Yes, delete" (or so) and "Cancel" beside a
// question instead of a modal (window.confirm would stall the page's tests and reads poorly).

import { h, mount } from './dom.js';

/** A span holding `label` (a danger button); confirming (`yes`) calls `action()`, which reports its own failures. */
export function confirmButton(label, question, action, yes = 'Yes, delete') {
  const box = h('span', { class: 'confirm' });
  function idle() {
    mount(box, h('button', { type: 'button', class: 'danger', onclick: ask }, label));
  }
  async function confirmed(event) {
    event.currentTarget.disabled = true;
    try {
      await action();
    } finally {
      if (box.isConnected) idle();
    }
  }
  function ask() {
    mount(box,
      h('span', { class: 'confirm-question' }, question),
      h('button', { type: 'button', class: 'danger', onclick: confirmed }, yes),
      h('button', { type: 'button', onclick: idle }, 'Cancel'));
  }
  idle();
  return box;
}
