/**
 * handoff.js — ways to hand a token over: copy it to the clipboard, save it
 * as a file, and the short "Copied" feedback on the button that did it.
 *
 * Pure DOM helpers, no state; used by result.js and owner.js.
 */

import { t } from './i18n.js';

const FEEDBACK_MS = 2000;

/** Copy `text`; falls back to selecting `field` where the async clipboard is missing (plain HTTP). */
export async function copyText(text, field) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    field.focus();
    field.select();
    return document.execCommand?.('copy') ?? false;
  }
}

/** Save `text` as a download named `name` (a small Blob: tokens are a few hundred bytes). */
export function saveTextFile(name, text) {
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

/** Show "Copied" on `button` for a moment, then its own label (its data-i18n key) again. */
export function flash(button) {
  button.textContent = t('result.copiedButton');
  setTimeout(() => {
    button.textContent = t(button.dataset.i18n);
  }, FEEDBACK_MS);
}
