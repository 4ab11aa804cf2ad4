/**
 * retrieve.js — the "Get a file back" card.
 *
 * Three ways in: a pasted token (or whole share link), a .jwe file
 * (picked or dropped on the card), or a share link opened in the browser
 * (main.js hands the token down through lookup()). It first asks for the
 * file's info and downloads NOTHING until the person clicks Download; the
 * download itself is a native form POST handled by api.js; a bundle lists
 * its files (bundlefiles.js), each with its own Download, and the main
 * button takes them all as one zip. A file with a
 * passphrase is unlocked first (unlock.js); the passphrase then goes with
 * every info call and with the download. While a file with a download limit
 * is shown, info is asked again every REFRESH_MS (and, after a Download, a few
 * times sooner, backing off), so "Downloads left" follows every download.
 * A share link's token is kept in sessionStorage for the tab's life, so a
 * reload finds it again; "Use another token" forgets it.
 */

import { deleteFile, downloadFile, getFileInfo, revealText } from './api.js';
import { BundleFiles } from './bundlefiles.js';
import { bindPicker } from './dropzone.js';
import { formatDownloadsLeft, formatExpiry, formatSize, formatType } from './format.js';
import { t } from './i18n.js';
import { messageFor, Notice } from './messages.js';
import { isText, SecretText } from './secret.js';
import { Unlock } from './unlock.js';

const MAX_JWE_FILE_BYTES = 16 * 1024; // tokens are ~320 bytes
// After these, the file cannot come back: stop offering the Download button.
const GONE = new Set(['expired', 'not_found', 'invalid_token', 'download_limit_reached', 'forbidden']);
const RECHECK_AFTER_MS = [1000, 2000, 4000, 8000, 16000];
const REFRESH_MS = 30000;
const ALREADY_GONE = ['not_found', 'expired', 'download_limit_reached']; // a delete with nothing left to delete
const LINK_KEY = 'anon-hosting.link-token';
// A compact JWE: five base64url parts (the second, the key, is empty for "dir").
const JWE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){4}$/;

/** Accept a bare token, or a share link / text holding "#token". */
export function tokenFrom(text) {
  const cleaned = String(text).replace(/\s+/g, '');
  const hash = cleaned.lastIndexOf('#');
  return hash >= 0 ? cleaned.slice(hash + 1) : cleaned;
}

/** True when `text` holds a token (or a share link with one), not some other text. */
export function looksLikeToken(text) {
  return JWE.test(tokenFrom(text));
}

/** The share link token this tab opened last, kept so a reload finds it. */
export function keptLinkToken() {
  try {
    return sessionStorage.getItem(LINK_KEY) ?? '';
  } catch {
    return ''; // storage blocked: a reload needs the link again
  }
}

/** Forget the kept share link token (leaving the recipient's view for the full page). */
export function forgetLinkToken() {
  keepLinkToken('');
}

function keepLinkToken(token) {
  try {
    if (token) sessionStorage.setItem(LINK_KEY, token);
    else sessionStorage.removeItem(LINK_KEY);
  } catch {
    // storage blocked: nothing to keep
  }
}

export function Retrieve(root) {
  const part = (name) => root.querySelector(`[data-retrieve="${name}"]`);
  const field = part('token');
  const info = part('info');
  const downloadButton = part('download');
  const notice = Notice(part('notice'));
  const unlock = Unlock(part('unlock'));
  const secret = SecretText(part('secret-block'), notice);
  const files = BundleFiles(part('files'));
  let token = null;
  let passphrase = '';
  let source = null; // {key, name?}: where the token came from, as a catalog key
  let busy = false;
  let recheck = 0;
  let shown = null; // the info on screen, redrawn when the language changes
  let owner = null; // an owner token pasted here, offered for Delete this file

  bindPicker(part('choose'), part('input'));
  part('form').addEventListener('submit', (event) => {
    event.preventDefault();
    lookup(field.value, { key: 'retrieve.source.pasted' });
  });
  root.addEventListener('dropzone:file', (event) => readJweFile(event.detail.file));
  root.addEventListener('dropzone:refused', (event) => notice.error(event.detail.code));
  root.addEventListener('dropzone:files', () => notice.error('one_file_only'));
  root.addEventListener('bundle:download', (event) => download(event.detail.index));
  root.addEventListener('unlock:submit', (event) => unlockWith(event.detail.passphrase));
  root.addEventListener('unlock:reset', reset);
  downloadButton.addEventListener('click', () => (isText(shown) ? reveal() : download()));
  part('reset').addEventListener('click', reset);
  part('owner-delete').addEventListener('click', deleteOwned);
  document.addEventListener('i18n:changed', () => {
    if (shown && !info.hidden) showInfo(shown);
  });

  async function readJweFile(file) {
    const text = file.size <= MAX_JWE_FILE_BYTES ? await file.text() : '';
    if (!looksLikeToken(text)) return notice.error('not_a_jwe');
    lookup(text, { key: 'retrieve.source.file', name: file.name });
  }

  /** Run `task` unless another one is running; aria-busy meanwhile. */
  async function exclusive(task) {
    if (busy) return;
    busy = true;
    root.setAttribute('aria-busy', 'true'); // rather than disabling buttons, so focus stays put
    try {
      await task();
    } finally {
      busy = false;
      root.setAttribute('aria-busy', 'false');
    }
  }

  /** Data down: look up a token and show what it opens. */
  function lookup(text, from) {
    const candidate = tokenFrom(text);
    if (!candidate) return notice.error('empty_token');
    keepLinkToken(from.key === 'retrieve.source.link' ? candidate : '');
    return exclusive(async () => {
      clearTimeout(recheck);
      notice.info(t('retrieve.checking'));
      try {
        found(await getFileInfo(candidate), candidate, from);
      } catch (error) {
        forget();
        if (error.code === 'forbidden') return offerDelete(candidate);
        if (error.code !== 'passphrase_required') {
          if (GONE.has(error.code)) keepLinkToken('');
          return notice.error(error);
        }
        [token, source] = [candidate, from];
        unlock.ask();
        notice.info(messageFor(error));
      }
    });
  }

  function unlockWith(given) {
    if (!token) return;
    if (!given) {
      unlock.refused();
      return notice.error('passphrase_missing');
    }
    return exclusive(async () => {
      notice.info(t('retrieve.checkingPassphrase'));
      try {
        found(await getFileInfo(token, given), token, source, given);
      } catch (error) {
        notice.error(error);
        if (GONE.has(error.code)) forget();
        else unlock.refused();
      }
    });
  }

  function found(details, foundToken, from, given = '') {
    [token, source, passphrase] = [foundToken, from, given];
    unlock.hide();
    showInfo(details);
    notice.success(t(isText(details) ? 'retrieve.foundText' : 'retrieve.found', { name: details.name }));
    if (typeof details.downloads_left === 'number') follow(details.downloads_left, RECHECK_AFTER_MS.length);
  }

  /** An owner token was pasted: offer to delete its file rather than an error. */
  function offerDelete(ownerToken) {
    owner = ownerToken;
    part('owner').hidden = false;
    notice.info(t('retrieve.owner.found'));
    part('owner-delete').focus();
  }

  async function deleteOwned() {
    const ownerToken = owner;
    if (!ownerToken) return;
    return exclusive(async () => {
      try {
        await deleteFile(ownerToken);
        notice.success(t('retrieve.owner.deleted'));
      } catch (error) {
        if (!ALREADY_GONE.includes(error.code)) return notice.error(error);
        notice.success(t('retrieve.owner.gone'));
      }
      owner = null;
      part('owner').hidden = true;
      root.dispatchEvent(new CustomEvent('retrieve:deleted', { bubbles: true, detail: { ownerToken } }));
    });
  }

  /** Fetch a short secret and show it in the page (one download, like Download). */
  function reveal() {
    if (!token) return;
    return exclusive(async () => {
      clearTimeout(recheck);
      try {
        secret.show(await revealText(token, passphrase));
        downloadButton.hidden = true;
        const left = shown?.downloads_left;
        if (typeof left === 'number') part('downloads').textContent = String(Math.max(0, left - 1));
        notice.success(t('retrieve.revealed'));
      } catch (error) {
        if (GONE.has(error.code)) forget();
        notice.error(error);
      }
    });
  }

  function download(index = null) {
    if (!token) return;
    return exclusive(async () => {
      try {
        const details = await downloadFile(token, passphrase, index);
        showInfo(details);
        notice.success(t('retrieve.downloading', { name: index === null ? details.name : details.files[index].name }));
        if (typeof details.downloads_left === 'number') follow(details.downloads_left, 0);
      } catch (error) {
        if (GONE.has(error.code)) forget();
        notice.error(error);
      }
    });
  }

  /** Ask info again (soon after a download, then every REFRESH_MS) so "Downloads left" follows. */
  function follow(before, step) {
    clearTimeout(recheck); // one loop at a time, even after two quick downloads
    const asked = token;
    recheck = setTimeout(async () => {
      try {
        const details = await getFileInfo(asked, passphrase);
        if (asked !== token) return;
        const changed = details.downloads_left !== before;
        if (changed) showInfo(details);
        follow(details.downloads_left, changed ? RECHECK_AFTER_MS.length : step + 1);
      } catch (error) {
        if (asked !== token) return;
        if (error.code === 'download_limit_reached') usedUp();
        else if (!GONE.has(error.code)) follow(before, step + 1); // a blip: ask again later
      }
    }, RECHECK_AFTER_MS[step] ?? REFRESH_MS);
  }

  function usedUp() {
    shown = null;
    part('heading').textContent = t('retrieve.usedUp.title');
    part('downloads').textContent = t('retrieve.usedUp.count');
    downloadButton.hidden = true;
    notice.info(t('retrieve.usedUp.notice', { name: part('name').textContent }));
  }

  function showInfo(details) {
    shown = details;
    part('name').textContent = details.name;
    part('size').textContent = formatSize(details.size);
    part('size').dataset.bytes = String(details.size);
    part('type').textContent = formatType(details.name);
    part('expires').textContent = formatExpiry(details.expires_at);
    part('downloads').textContent = formatDownloadsLeft(details.downloads_left);
    part('heading').textContent = t(isText(details) ? 'retrieve.readyText' : 'retrieve.ready');
    const bundle = details.kind === 'bundle' ? 'retrieve.downloadAll' : 'retrieve.download';
    downloadButton.dataset.i18n = isText(details) ? 'retrieve.reveal' : bundle;
    files.show(details);
    downloadButton.textContent = t(downloadButton.dataset.i18n);
    const from = t(source.key, source);
    part('source').textContent = passphrase ? `${from} ${t('retrieve.unlocked')}` : from;
    downloadButton.hidden = false;
    const wasHidden = info.hidden;
    info.hidden = false;
    if (wasHidden) part('heading').focus();
  }

  /** Drop the token, its passphrase and anything shown about it. */
  function forget() {
    clearTimeout(recheck);
    shown = null;
    owner = null;
    part('owner').hidden = true;
    secret.hide();
    files.show(null);
    token = null;
    passphrase = '';
    info.hidden = true;
    unlock.hide();
  }

  function reset() {
    keepLinkToken('');
    forget();
    field.value = '';
    notice.clear();
    field.focus();
  }

  return { lookup };
}
