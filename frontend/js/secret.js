/**
 * secret.js — the recipient's side of a short secret: a file named
 * secret.txt of at most MAX_TEXT_BYTES is revealed in the page, not
 * downloaded. Reveal fetches it (api.revealText, a POST: one download) and
 * puts it in a read-only textarea's value, so it is never parsed as HTML.
 * Data down: show(text), hide().
 */

import { copyText, flash } from './handoff.js';
import { t } from './i18n.js';
import { MAX_TEXT_BYTES, SECRET_NAME } from './text.js';

/** True for what the Text tab stores: shown with Reveal rather than Download. */
export function isText(details) {
  return details?.name === SECRET_NAME && details.size <= MAX_TEXT_BYTES;
}

export function SecretText(block, notice) {
  const field = block.querySelector('[data-retrieve="secret"]');

  block.querySelector('[data-retrieve="copy-secret"]').addEventListener('click', async (event) => {
    if (await copyText(field.value, field)) {
      notice.success(t('retrieve.secret.copied'));
      flash(event.currentTarget);
    } else {
      notice.error('clipboard');
    }
  });

  function show(text) {
    field.value = text;
    block.hidden = false;
    field.focus();
  }

  function hide() {
    field.value = '';
    block.hidden = true;
  }

  return { show, hide };
}
