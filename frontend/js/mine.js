/**
 * mine.js — "My uploads": the uploads this browser keeps, when the person
 * chose "Keep this upload in this browser" (a choice that stays chosen).
 *
 * Entries (name, size, expiry, download token, owner token) live in
 * localStorage, so anyone with this browser profile can use them
 * (docs/threat-model.md). Opening the panel asks /api/files/info about each
 * one for its live status. Each can be copied as a share link, shown as a QR
 * code, or deleted with its owner token; entries whose file is gone can be
 * cleared. Names are set as text, never as HTML.
 */

import { deleteFile, getFileInfo } from './api.js';
import { formatExpiry, formatSize } from './format.js';
import { copyText, flash } from './handoff.js';
import { t } from './i18n.js';
import { Notice } from './messages.js';
import { renderQr } from './qr.js';
import { shareLinkFor } from './result.js';

const LIST_KEY = 'anon-hosting.uploads';
const KEEP_KEY = 'anon-hosting.keep-uploads';
const GONE = new Set(['expired', 'not_found', 'download_limit_reached', 'invalid_token']);

function read(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key)) ?? fallback;
  } catch {
    return fallback; // storage blocked or damaged: nothing kept
  }
}

function write(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // storage blocked: the upload is simply not kept
  }
}

function button(key, ...classes) {
  const el = document.createElement('button');
  el.type = 'button';
  el.classList.add('button', ...classes);
  el.dataset.i18n = key;
  el.textContent = t(key);
  return el;
}

export function MyUploads(root) {
  const list = root.querySelector('[data-mine="list"]');
  const notice = Notice(root.querySelector('[data-mine="notice"]'));
  const status = new Map(); // token -> {text, gone}

  root.addEventListener('toggle', () => {
    if (root.open) refresh();
  });
  root.querySelector('[data-mine="clear"]').addEventListener('click', () => {
    entries().filter((entry) => status.get(entry.token)?.gone).forEach((entry) => remove(entry.token));
    notice.success(t('mine.cleared'));
  });
  document.addEventListener('i18n:changed', draw);

  const entries = () => read(LIST_KEY, []);
  const keeping = () => read(KEEP_KEY, false) === true;

  function setKeeping(on, stored) {
    write(KEEP_KEY, on);
    if (on && stored) add(stored);
    else if (!on && stored) remove(stored.token);
  }

  function add(stored) {
    const kept = entries().filter((entry) => entry.token !== stored.token);
    const { name, size, expires_at: expiresAt, token, owner_token: ownerToken } = stored;
    kept.unshift({ name, size, expiresAt, token, ownerToken });
    write(LIST_KEY, kept);
    draw();
  }

  function remove(token) {
    write(LIST_KEY, entries().filter((entry) => entry.token !== token));
    status.delete(token);
    draw();
  }

  async function refresh() {
    await Promise.all(
      entries().map(async (entry) => {
        try {
          const info = await getFileInfo(entry.token);
          const left = info.downloads_left;
          status.set(entry.token, { text: left === null ? t('mine.unlimited') : t('mine.left', { count: left }) });
        } catch (error) {
          const gone = GONE.has(error.code);
          const key = gone ? `mine.gone.${error.code}` : error.code === 'passphrase_required' ? 'mine.locked' : 'mine.unknown';
          status.set(entry.token, { text: t(key), gone });
        }
      }),
    );
    draw();
  }

  function item(entry) {
    const li = document.createElement('li');
    li.className = 'mine-item';
    const name = document.createElement('p');
    name.className = 'mine-name';
    name.textContent = entry.name;
    const facts = document.createElement('p');
    facts.className = 'hint';
    const live = status.get(entry.token);
    facts.textContent = [formatSize(entry.size), formatExpiry(entry.expiresAt), live?.text].filter(Boolean).join(' · ');
    const qr = document.createElement('div');
    qr.className = 'qr-code';
    qr.hidden = true;
    const copy = button('mine.copy');
    const showQr = button('mine.qr');
    const del = button('mine.delete', 'danger');
    copy.addEventListener('click', async () => {
      if (await copyText(shareLinkFor(entry.token), copy)) {
        notice.success(t('result.link.copied'));
        flash(copy);
      } else notice.error('clipboard');
    });
    showQr.addEventListener('click', async () => {
      qr.hidden = !qr.hidden;
      if (!qr.hidden) await renderQr(qr, shareLinkFor(entry.token), t('mine.qrLabel', { name: entry.name }));
    });
    del.addEventListener('click', () => removeFile(entry, del));
    const actions = document.createElement('div');
    actions.className = 'actions';
    actions.append(copy, showQr, del);
    li.append(name, facts, actions, qr);
    return li;
  }

  async function removeFile(entry, del) {
    if (del.dataset.i18n !== 'mine.confirm') {
      del.dataset.i18n = 'mine.confirm'; // a second press confirms
      del.textContent = t('mine.confirm');
      return;
    }
    try {
      await deleteFile(entry.ownerToken);
    } catch (error) {
      if (!GONE.has(error.code)) return notice.error(error);
    }
    remove(entry.token);
    notice.success(t('result.deletedNotice', { name: entry.name }));
  }

  function draw() {
    const kept = entries();
    root.hidden = kept.length === 0;
    root.querySelector('[data-mine="count"]').textContent = `(${kept.length})`;
    list.replaceChildren(...kept.map(item));
  }

  draw();
  /** Forget the entry whose owner token deleted its file elsewhere on the page. */
  function removeOwner(ownerToken) {
    const entry = entries().find((kept) => kept.ownerToken === ownerToken);
    if (entry) remove(entry.token);
  }

  return { keeping, setKeeping, add, remove, removeOwner };
}
