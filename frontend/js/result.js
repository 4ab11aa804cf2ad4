/**
 * result.js — what the sender gets back: the facts of the stored file, what
 * to give the recipient (share link, QR code, download token, .jwe file) and
 * what to keep (the owner token, with Delete now: see owner.js).
 *
 * Data down: show(stored) with the server's upload answer; hide();
 *            askReplace(file) when a new file comes while this is shown.
 * Events up: "result:again" when the person wants to send another file;
 *            "result:replace" detail {file} once they said yes to askReplace.
 * The share link carries the token in the #fragment only, which browsers
 * never send to a server or put in a Referer.
 */

import { formatExpiry, formatSize } from './format.js';
import { copyText, flash, saveTextFile } from './handoff.js';
import { locale, t } from './i18n.js';
import { Notice } from './messages.js';
import { OwnerToken } from './owner.js';
import { renderQr } from './qr.js';

export function shareLinkFor(token) {
  return `${location.origin}/#${token}`;
}

/** 1 -> "1 (burn after reading)", null -> "Unlimited". */
export function formatDownloadLimit(max) {
  if (!max) return t('result.limit.unlimited');
  return max === 1 ? t('result.limit.burn') : new Intl.NumberFormat(locale()).format(max);
}

function recipientHint(max) {
  return max ? t('result.recipient.hintLimit', { count: max }) : t('result.recipient.hint');
}

export function Result(root, noticeElement) {
  const part = (name) => root.querySelector(`[data-result="${name}"]`);
  const tokenField = part('token');
  const linkField = part('link');
  const shareButton = part('share');
  const notice = Notice(noticeElement);
  const owner = OwnerToken(part('owner'), notice);
  let stored = null;
  let replacing = null; // the file askReplace() asks about

  async function copy(button, text, field, said) {
    if (await copyText(text, field)) {
      notice.success(t(said));
      flash(button);
    } else {
      notice.error('clipboard');
    }
  }

  part('copy-token').addEventListener('click', (event) =>
    copy(event.currentTarget, stored.token, tokenField, 'result.token.copied'),
  );
  part('copy-link').addEventListener('click', (event) =>
    copy(event.currentTarget, shareLinkFor(stored.token), linkField, 'result.link.copied'),
  );
  part('save').addEventListener('click', () => {
    saveTextFile(`${stored.name}.jwe`, stored.token);
    notice.success(t('result.token.saved', { file: `${stored.name}.jwe` }));
  });
  shareButton.addEventListener('click', () => {
    navigator.share({ title: stored.name, url: shareLinkFor(stored.token) }).catch(() => {});
  });
  part('replace-yes').addEventListener('click', () => {
    const file = replacing;
    askingReplace(null);
    root.dispatchEvent(new CustomEvent('result:replace', { bubbles: true, detail: { file } }));
  });
  part('replace-no').addEventListener('click', () => {
    askingReplace(null);
    part('heading').focus();
  });
  part('replace').addEventListener('keydown', (event) => {
    if (event.key === 'Escape') askingReplace(null);
  });
  part('again').addEventListener('click', () => {
    root.dispatchEvent(new CustomEvent('result:again', { bubbles: true }));
  });
  root.addEventListener('owner:deleted', (event) => deleted(event.detail.already));
  document.addEventListener('i18n:changed', () => {
    if (stored) describe(stored);
    part('title').textContent = t(root.dataset.state === 'deleted' ? 'result.deletedTitle' : 'result.stored');
  });

  function setState(state) {
    root.dataset.state = state;
    part('title').textContent = t(state === 'deleted' ? 'result.deletedTitle' : 'result.stored');
    part('live').hidden = state === 'deleted';
    part('deleted').hidden = state !== 'deleted';
  }

  /** The facts and hints that depend on the language. */
  function describe(data) {
    part('name').textContent = data.name;
    part('size').textContent = formatSize(data.size);
    part('expires').textContent = formatExpiry(data.expires_at);
    part('downloads').textContent = formatDownloadLimit(data.max_downloads);
    part('passphrase').textContent = t(data.passphrase ? 'result.passphrase.yes' : 'result.passphrase.none');
    part('recipient-hint').textContent = recipientHint(data.max_downloads);
  }

  async function show(data) {
    stored = data;
    const link = shareLinkFor(data.token);
    setState('stored');
    describe(data);
    part('passphrase-note').hidden = !data.passphrase;
    tokenField.value = data.token;
    linkField.value = link;
    owner.show(data);
    shareButton.hidden = !(navigator.share && navigator.canShare?.({ url: link }));
    root.hidden = false;
    part('heading').focus();
    const drawn = await renderQr(part('qr'), link, t('result.qr.label'));
    part('qr-figure').hidden = !drawn;
  }

  function clearTokens() {
    tokenField.value = '';
    linkField.value = '';
    part('qr').replaceChildren();
    owner.hide();
  }

  function deleted(already) {
    const name = stored?.name ?? '';
    clearTokens();
    setState('deleted');
    part('heading').focus();
    notice.success(t(already ? 'result.alreadyGone' : 'result.deletedNotice', { name }));
  }

  function askingReplace(file) {
    replacing = file;
    part('replace').hidden = !file;
    if (!file) return;
    part('replace-title').textContent = t('result.replace.title', { name: file.name });
    part('replace-no').focus();
  }

  /** A new file while this result is shown: ask before its tokens leave the screen. */
  function askReplace(file) {
    if (root.dataset.state === 'deleted') {
      root.dispatchEvent(new CustomEvent('result:replace', { bubbles: true, detail: { file } }));
    } else {
      askingReplace(file);
    }
  }

  function hide() {
    askingReplace(null);
    root.hidden = true;
    stored = null;
    clearTokens();
  }

  return { show, hide, askReplace };
}
