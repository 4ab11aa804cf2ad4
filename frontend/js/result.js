/**
 * result.js — what the sender gets back: the facts of the stored file, what
 * to give the recipient (share link, QR code, download token, .jwe file) and
 * what to keep (the owner token, with Delete now: see owner.js).
 *
 * Data down: show(stored) with the server's upload answer; hide().
 * Event up:  "result:again" when the person wants to send another file.
 * The share link carries the token in the #fragment only, which browsers
 * never send to a server or put in a Referer.
 */

import { formatExpiry, formatSize } from './format.js';
import { copyText, flash, saveTextFile } from './handoff.js';
import { Notice } from './messages.js';
import { OwnerToken } from './owner.js';
import { renderQr } from './qr.js';

export function shareLinkFor(token) {
  return `${location.origin}/#${token}`;
}

/** 1 -> "1 (burn after reading)", null -> "Unlimited". */
export function formatDownloadLimit(max) {
  if (!max) return 'Unlimited';
  return max === 1 ? '1 (burn after reading)' : String(max);
}

function limitNote(max) {
  if (!max) return '';
  return ` or has been downloaded ${max === 1 ? 'once' : `${max} times`}`;
}

export function Result(root, noticeElement) {
  const part = (name) => root.querySelector(`[data-result="${name}"]`);
  const tokenField = part('token');
  const linkField = part('link');
  const shareButton = part('share');
  const notice = Notice(noticeElement);
  const owner = OwnerToken(part('owner'), notice);
  let stored = null;

  async function copy(button, text, field, what) {
    if (await copyText(text, field)) {
      notice.success(`${what} copied to the clipboard.`);
      flash(button, 'Copied');
    } else {
      notice.error('clipboard');
    }
  }

  part('copy-token').addEventListener('click', (event) =>
    copy(event.currentTarget, stored.token, tokenField, 'Download token'),
  );
  part('copy-link').addEventListener('click', (event) =>
    copy(event.currentTarget, shareLinkFor(stored.token), linkField, 'Share link'),
  );
  part('save').addEventListener('click', () => {
    saveTextFile(`${stored.name}.jwe`, stored.token);
    notice.success(`Saved “${stored.name}.jwe”. Send it to the recipient, or keep it somewhere safe.`);
  });
  shareButton.addEventListener('click', () => {
    navigator.share({ title: stored.name, url: shareLinkFor(stored.token) }).catch(() => {});
  });
  part('again').addEventListener('click', () => {
    root.dispatchEvent(new CustomEvent('result:again', { bubbles: true }));
  });
  root.addEventListener('owner:deleted', (event) => deleted(event.detail.already));

  function setState(state) {
    root.dataset.state = state;
    part('title').textContent = state === 'deleted' ? 'File deleted' : 'Encrypted and stored';
    part('live').hidden = state === 'deleted';
    part('deleted').hidden = state !== 'deleted';
  }

  async function show(data) {
    stored = data;
    const link = shareLinkFor(data.token);
    setState('stored');
    part('name').textContent = data.name;
    part('size').textContent = formatSize(data.size);
    part('expires').textContent = formatExpiry(data.expires_at);
    part('downloads').textContent = formatDownloadLimit(data.max_downloads);
    part('passphrase').textContent = data.passphrase ? 'Yes: the recipient needs it too' : 'None';
    part('limit-note').textContent = limitNote(data.max_downloads);
    part('passphrase-note').hidden = !data.passphrase;
    tokenField.value = data.token;
    linkField.value = link;
    owner.show(data);
    shareButton.hidden = !(navigator.share && navigator.canShare?.({ url: link }));
    root.hidden = false;
    part('heading').focus();
    const drawn = await renderQr(part('qr'), link, 'QR code of the share link');
    part('qr-figure').hidden = !drawn;
  }

  function clearTokens() {
    tokenField.value = '';
    linkField.value = '';
    part('qr').replaceChildren();
    owner.hide();
  }

  function deleted(already) {
    const name = stored?.name ?? 'The file';
    clearTokens();
    setState('deleted');
    part('heading').focus();
    notice.success(already ? `“${name}” was already gone from the server.` : `“${name}” is deleted.`);
  }

  function hide() {
    root.hidden = true;
    stored = null;
    clearTokens();
  }

  return { show, hide };
}
