// A message as a bubble: its text through the safe markdown renderer, image parts as images, and its annotations as
// numbered markers with a list of what they cite (the quote and the file) and download buttons for file paths.
// Used for stored messages and for the ones a live run is writing.

import { fileUrl, get } from '../lib/api.js';
import { h } from '../lib/dom.js';
import { markdown } from '../lib/markdown.js';
import { markersOf } from '../lib/runstate.js';

// File names, asked once per file per page (a citation names the file by id only).
const names = new Map();

function fileName(fileId) {
  if (!names.has(fileId)) names.set(fileId, get(`/files/${encodeURIComponent(fileId)}`).then((file) => file.filename).catch(() => null));
  return names.get(fileId);
}

/** A span showing the file's name once known (its id until then, and if the file is gone). */
function fileLabel(fileId) {
  const label = h('span', { class: 'file-name' }, fileId);
  fileName(fileId).then((name) => {
    if (name) {
      label.textContent = name;
      label.title = fileId;
    }
  });
  return label;
}

function imagePart(fileId) {
  const img = h('img', { alt: `Image ${fileId}`, class: 'message-image' });
  const note = h('span', { class: 'muted' }, `image ${fileId}`);
  fileUrl(fileId)
    .then((src) => { img.src = src; note.remove(); })
    .catch((error) => { note.textContent = `image ${fileId}: ${error.message}`; img.remove(); });
  return h('figure', null, img, note);
}

async function download(fileId, button) {
  button.disabled = true;
  try {
    const href = await fileUrl(fileId);
    const link = h('a', { href, download: (await fileName(fileId)) || fileId });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(href), 60_000);
  } catch (error) {
    button.title = error.message;
    button.textContent = `Download failed: ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

function citation({ label, annotation }) {
  const item = h('li', { 'data-marker': String(label) }, h('span', { class: 'cite' }, `[${label}]`), ' ');
  if (annotation.type === 'file_citation') {
    const cited = annotation.file_citation || {};
    if (cited.quote) item.append(h('q', null, cited.quote), ' — ');
    item.append(fileLabel(cited.file_id));
  } else if (annotation.type === 'file_path') {
    const fileId = (annotation.file_path || {}).file_id;
    const button = h('button', { type: 'button', class: 'link', onclick: () => download(fileId, button) }, 'Download');
    item.append(fileLabel(fileId), ' ', button);
  } else {
    item.append(annotation.text || annotation.type || '');
  }
  return item;
}

function textPart(part) {
  const text = part.text || {};
  const markers = markersOf(text.annotations);
  return [
    h('div', { class: 'text' }, markdown(text.value || '', h, { markers })),
    markers.length ? h('ol', { class: 'citations', 'aria-label': 'Citations' }, markers.map(citation)) : null,
  ];
}

function part(item) {
  if (!item) return null;
  if (item.type === 'text') return textPart(item);
  if (item.type === 'image_file' && item.image_file) return imagePart(item.image_file.file_id);
  if (item.type === 'image_url' && item.image_url) {
    // The page's CSP loads no image from elsewhere: a link instead.
    const url = item.image_url.url || '';
    return /^https?:\/\//i.test(url) ? h('p', null, h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, url)) : null;
  }
  return h('pre', { class: 'logs' }, JSON.stringify(item, null, 2));
}

/** The bubble of a message (API shape: role, content parts, status); `runHref` links the run that wrote it. */
export function messageBubble(message, { label, runHref } = {}) {
  const role = message.role || 'assistant';
  return h('article', { class: ['message', role], 'data-testid': 'message', 'data-role': role, 'data-message-id': message.id },
    h('div', { class: 'role' }, label || role,
      message.status && message.status !== 'completed' ? h('span', { class: 'message-status' }, ` · ${message.status}`) : null,
      runHref ? h('a', { class: 'message-run', href: runHref, title: 'The run that wrote it: steps, tool calls, events' }, message.run_id) : null),
    (message.content || []).map(part),
    (message.attachments || []).length
      ? h('div', { class: 'muted attachments' }, 'attached: ', message.attachments.map((a) => fileLabel(a.file_id)).flatMap((l, i) => (i ? [', ', l] : [l])))
      : null);
}
