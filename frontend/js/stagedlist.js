/**
 * stagedlist.js — the files staged for one upload when there are several (a
 * bundle): each with its path, its size, its own progress bar and a Remove
 * button. Shown only for two files or more; one file is the staged card alone.
 *
 * Data comes down through show(items) and progress(items, loaded, total);
 * a Remove click goes up as the bubbling CustomEvent "staged:remove"
 * (detail {index}).
 */

import { formatBytes } from './format.js';
import { t } from './i18n.js';

function element(tag, classes = [], text) {
  const el = document.createElement(tag);
  el.classList.add(...classes);
  if (text !== undefined) el.textContent = text;
  return el;
}

export function StagedList(list) {
  let bars = [];

  function show(items) {
    list.replaceChildren();
    bars = [];
    list.hidden = items.length < 2;
    if (list.hidden) return;
    items.forEach(({ file, path }, index) => {
      const row = element('li', ['staged-file']);
      const bar = element('progress');
      bar.max = Math.max(1, file.size);
      bar.value = 0;
      bar.setAttribute('aria-label', t('upload.fileProgress', { name: path }));
      const remove = element('button', ['button', 'quiet'], t('upload.removeFile'));
      remove.type = 'button';
      remove.setAttribute('aria-label', t('upload.removeFileNamed', { name: path }));
      remove.addEventListener('click', () => {
        list.dispatchEvent(new CustomEvent('staged:remove', { bubbles: true, detail: { index } }));
      });
      row.append(element('span', ['staged-path'], path), element('span', ['hint'], formatBytes(file.size)), bar, remove);
      list.append(row);
      bars.push(bar);
    });
  }

  /** Spread `loaded` of `total` bytes over the files in order: they are sent one after the other. */
  function progress(items, loaded, total) {
    const size = items.reduce((sum, item) => sum + item.file.size, 0);
    const sent = total > 0 ? (Math.min(loaded, total) / total) * size : 0;
    let offset = 0;
    items.forEach(({ file }, index) => {
      const bar = bars[index];
      if (bar) bar.value = file.size ? Math.min(file.size, Math.max(0, sent - offset)) : Number(sent >= offset);
      offset += file.size;
    });
  }

  function setBusy(busy) {
    for (const button of list.querySelectorAll('button')) button.disabled = busy;
  }

  return { show, progress, setBusy };
}
