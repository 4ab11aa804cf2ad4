/**
 * result.js — what the sender gets back: the token, a share link, a QR
 * code and a .jwe file to save.
 *
 * Data down: show(stored) with the server's upload answer.
 * Event up:  "result:again" when the person wants to send another file.
 * The share link carries the token in the #fragment only, which browsers
 * never send to a server or put in a Referer.
 */

import { formatExpiry, formatSize } from './format.js';
import { Notice } from './messages.js';
import { renderQr } from './qr.js';

const FEEDBACK_MS = 2000;

export function shareLinkFor(token) {
  return `${location.origin}/#${token}`;
}

async function copyText(text, field) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Plain-HTTP sites have no async clipboard: fall back to selecting the field.
    field.focus();
    field.select();
    return document.execCommand?.('copy') ?? false;
  }
}

function saveAsFile(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/jose' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function Result(root, noticeElement) {
  const part = (name) => root.querySelector(`[data-result="${name}"]`);
  const tokenField = part('token');
  const linkField = part('link');
  const shareButton = part('share');
  const notice = Notice(noticeElement);
  let stored = null;

  async function copy(button, text, field, what) {
    if (await copyText(text, field)) {
      notice.success(`${what} copied to the clipboard.`);
      flash(button, 'Copied');
    } else {
      notice.error('clipboard');
    }
  }

  function flash(button, text) {
    button.dataset.label ??= button.textContent;
    button.textContent = text;
    setTimeout(() => {
      button.textContent = button.dataset.label;
    }, FEEDBACK_MS);
  }

  part('copy-token').addEventListener('click', (event) =>
    copy(event.currentTarget, stored.token, tokenField, 'Token'),
  );
  part('copy-link').addEventListener('click', (event) =>
    copy(event.currentTarget, shareLinkFor(stored.token), linkField, 'Share link'),
  );
  part('save').addEventListener('click', () => {
    saveAsFile(`${stored.name}.jwe`, stored.token);
    notice.success(`Saved “${stored.name}.jwe”. Keep it somewhere safe.`);
  });
  shareButton.addEventListener('click', () => {
    navigator.share({ title: stored.name, url: shareLinkFor(stored.token) }).catch(() => {});
  });
  part('again').addEventListener('click', () => {
    root.dispatchEvent(new CustomEvent('result:again', { bubbles: true }));
  });

  async function show(data) {
    stored = data;
    const link = shareLinkFor(data.token);
    part('name').textContent = data.name;
    part('size').textContent = formatSize(data.size);
    part('expires').textContent = formatExpiry(data.expires_at);
    tokenField.value = data.token;
    linkField.value = link;
    shareButton.hidden = !(navigator.share && navigator.canShare?.({ url: link }));
    root.hidden = false;
    part('heading').focus();
    const drawn = await renderQr(part('qr'), link, 'QR code of the share link');
    part('qr-figure').hidden = !drawn;
  }

  function hide() {
    root.hidden = true;
    stored = null;
    tokenField.value = '';
    linkField.value = '';
    part('qr').replaceChildren();
  }

  return { show, hide };
}
