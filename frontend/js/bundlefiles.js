/**
 * bundlefiles.js — a bundle's files on the recipient's side: each file's
 * path, size and downloads left, with a Download button of its own (the
 * card's main button takes them all as one zip).
 *
 * Data comes down through show(details) (the info answer; anything but a
 * bundle hides the list); a click goes up as the bubbling CustomEvent
 * "bundle:download" (detail {index}).
 */

import { formatBytes } from './format.js';
import { t } from './i18n.js';

function cell(tag, className, text) {
  const el = document.createElement(tag);
  el.className = className;
  el.textContent = text;
  return el;
}

export function BundleFiles(list) {
  function show(details) {
    list.replaceChildren();
    list.hidden = details?.kind !== 'bundle';
    if (list.hidden) return;
    for (const file of details.files) {
      const row = cell('li', 'bundle-file', '');
      const left = typeof file.downloads_left === 'number' ? t('retrieve.fileLeft', { count: file.downloads_left }) : '';
      const button = cell('button', 'button', t('retrieve.download'));
      button.type = 'button';
      button.setAttribute('aria-label', t('retrieve.downloadNamed', { name: file.name }));
      button.disabled = file.downloads_left === 0;
      button.addEventListener('click', () => {
        list.dispatchEvent(new CustomEvent('bundle:download', { bubbles: true, detail: { index: file.index } }));
      });
      row.append(cell('span', 'bundle-path', file.name), cell('span', 'hint', formatBytes(file.size)),
        cell('span', 'hint', left), button);
      list.append(row);
    }
  }

  return { show };
}
