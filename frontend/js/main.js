/**
 * main.js — wires the page together.
 *
 * Reads a share link's #token (and wipes it from the address bar at once),
 * loads the page's language (i18n.js) and the server's config, builds each part and routes their events:
 * parts send CustomEvents up, main.js hands data down.
 */

import { getConfig } from './api.js';
import { initDropzones } from './dropzone.js';
import { bindSwitcher, startLanguage, t, useLanguage } from './i18n.js';
import { MyUploads } from './mine.js';
import { Result } from './result.js';
import { forgetLinkToken, keptLinkToken, looksLikeToken, Retrieve } from './retrieve.js';
import { TextTab } from './text.js';
import { Upload } from './upload.js';

/**
 * Take a token out of location.hash and out of the history entry. Any
 * other fragment (the skip link's #get-title) is an anchor and stays.
 */
function takeTokenFromHash() {
  const raw = location.hash.slice(1);
  let text = raw;
  try {
    text = decodeURIComponent(raw).trim();
  } catch {
    text = raw.trim();
  }
  if (!looksLikeToken(text)) return '';
  history.replaceState(history.state, '', location.pathname + location.search);
  return text;
}

/** A share link opens the recipient's view: the file and Download, not the sender's form. */
function showRecipientView() {
  document.body.dataset.view = 'recipient';
  const title = document.getElementById('get-title');
  title.dataset.i18n = 'recipient.title';
  title.textContent = t('recipient.title');
}

function showSiteName(name) {
  if (!name) return;
  document.title = name;
  for (const el of document.querySelectorAll('[data-site-name]')) el.textContent = name;
}

async function main() {
  const linkToken = takeTokenFromHash() || keptLinkToken();
  await useLanguage(startLanguage());
  bindSwitcher(document.querySelector('[data-language]'));
  const upload = Upload(document.querySelector('[data-part="upload"]'));
  const result = Result(
    document.querySelector('[data-part="result"]'),
    document.querySelector('[data-upload="notice"]'),
  );
  const retrieve = Retrieve(document.querySelector('[data-part="retrieve"]'));
  const sender = document.querySelector('[data-part="sender"]');
  const text = TextTab(document.querySelector('[data-part="upload"]'), upload, upload.notice);
  initDropzones();
  // Ctrl+V of a file or an image anywhere stages it; of text, with the Text tab open, fills it.
  document.addEventListener('paste', (event) => {
    const file = event.clipboardData?.files?.[0];
    const editing = event.target instanceof Element && event.target.closest('input, textarea, [contenteditable]');
    if (file) {
      event.preventDefault();
      if (!sender.hidden) {
        text.select('file');
        upload.choose(file);
      } else result.askReplace(file);
    } else if (!editing && !sender.hidden && text.current() === 'text') {
      event.preventDefault();
      text.fill(event.clipboardData.getData('text/plain'));
    }
  });

  const mine = MyUploads(document.querySelector('[data-part="mine"]'));
  const keep = document.querySelector('[data-result="keep"]');
  let shown = null;
  keep.addEventListener('change', () => mine.setKeeping(keep.checked, shown));
  document.addEventListener('upload:done', (event) => {
    sender.hidden = true;
    shown = event.detail;
    keep.checked = mine.keeping();
    if (keep.checked) mine.add(shown);
    result.show(event.detail);
  });
  document.addEventListener('owner:deleted', () => shown && mine.remove(shown.token));
  document.addEventListener('retrieve:deleted', (event) => mine.removeOwner(event.detail.ownerToken));
  const showSender = () => {
    result.hide();
    sender.hidden = false;
  };
  document.addEventListener('result:again', () => {
    showSender();
    upload.focus();
  });
  document.addEventListener('result:replace', (event) => {
    showSender();
    upload.choose(event.detail.file);
  });
  // A new file dropped while a result is shown: the result asks first, so its
  // tokens never vanish unasked (capture phase: upload.js never sees the file).
  document.addEventListener(
    'dropzone:file',
    (event) => {
      if (!sender.hidden || !sender.contains(event.target)) return;
      event.stopPropagation();
      result.askReplace(event.detail.file);
    },
    true,
  );
  window.addEventListener('hashchange', () => {
    const token = takeTokenFromHash();
    if (!token) return;
    showRecipientView();
    retrieve.lookup(token, { key: 'retrieve.source.link' });
  });

  document.querySelector('[data-home]').addEventListener('click', forgetLinkToken);
  if (linkToken) {
    showRecipientView();
    retrieve.lookup(linkToken, { key: 'retrieve.source.link' });
  }
  getConfig()
    .then((config) => {
      showSiteName(config.website_name);
      upload.configure(config);
    })
    .catch(() => upload.disable('no_config'));
}

main();
