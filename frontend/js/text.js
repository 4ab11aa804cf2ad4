/**
 * text.js — the File / Text tabs of "Send a file", and the Text tab: a short
 * secret (up to MAX_TEXT_BYTES of UTF-8) sent as the file secret.txt
 * (text/plain) with the same options.
 *
 * Choosing Text sets the options to a text's defaults (one download, 1 day)
 * and choosing File puts back what they were; the person can change both.
 * Tabs follow the ARIA tabs pattern: arrows, Home and End move between them.
 * Data down: select('file' | 'text'), fill(text). Sends through upload.sendNow(file).
 */

import { formatBytes } from './format.js';
import { t } from './i18n.js';

export const SECRET_NAME = 'secret.txt';
export const MAX_TEXT_BYTES = 64 * 1024;
const TEXT_DEFAULTS = { downloads: '1', expiry: '86400' };

export function TextTab(root, upload, notice) {
  const tabs = Array.from(root.querySelectorAll('[role="tab"]'));
  const field = root.querySelector('[data-upload="text"]');
  const hint = root.querySelector('[data-upload="text-hint"]');
  const expiry = root.querySelector('[data-upload="expiry"]');
  const downloads = root.querySelector('[data-upload="downloads"]');
  let fileOptions = null; // the File tab's options while Text is chosen

  function current() {
    return tabs.find((tab) => tab.getAttribute('aria-selected') === 'true').dataset.tab;
  }

  function select(name, { focus = false } = {}) {
    if (name === current()) {
      if (focus) tabs.find((tab) => tab.dataset.tab === name).focus();
      return;
    }
    for (const tab of tabs) {
      const on = tab.dataset.tab === name;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
      root.querySelector(`[data-panel="${tab.dataset.tab}"]`).hidden = !on;
      if (on && focus) tab.focus();
    }
    if (name === 'text') {
      fileOptions = { downloads: downloads.value, expiry: expiry.value };
      setOptions(TEXT_DEFAULTS);
    } else if (fileOptions) {
      setOptions(fileOptions);
      fileOptions = null;
    }
  }

  function setOptions(values) {
    downloads.value = values.downloads;
    if (Array.from(expiry.options).some((option) => option.value === values.expiry)) expiry.value = values.expiry;
  }

  function showHint() {
    hint.textContent = t('upload.text.hint', { size: formatBytes(MAX_TEXT_BYTES) });
  }

  for (const tab of tabs) {
    tab.addEventListener('click', () => select(tab.dataset.tab));
    tab.addEventListener('keydown', (event) => {
      const at = tabs.indexOf(tab);
      const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      select(tabs[(to + tabs.length) % tabs.length].dataset.tab, { focus: true });
    });
  }
  root.addEventListener('dropzone:file', () => select('file'), true);
  root.querySelector('[data-upload="text-form"]').addEventListener('submit', (event) => {
    event.preventDefault();
    const bytes = new TextEncoder().encode(field.value).length;
    if (!field.value.trim()) return notice.error('text_empty');
    if (bytes > MAX_TEXT_BYTES) return notice.error('text_too_long', { bytes, max: MAX_TEXT_BYTES });
    upload.sendNow(new File([field.value], SECRET_NAME, { type: 'text/plain' }));
  });
  root.addEventListener('upload:done', () => {
    field.value = ''; // the text belongs to the stored file, like the passphrase
  });
  document.addEventListener('i18n:changed', showHint);
  showHint();

  return { select, current, fill: (text) => { field.value = text; field.focus(); } };
}
