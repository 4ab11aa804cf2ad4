/**
 * owner.js — the uploader's owner token: Copy, Save (<name>.owner-token) and
 * "Delete now" with an in-page confirm step (no window.confirm: the
 * question and its Yes / No buttons take the button's place, focus moves to
 * "No", Escape backs out).
 *
 * Data down: show(stored) with the server's upload answer; hide().
 * Event up:  "owner:deleted" detail {already} once the file is gone
 *            (already: the server had no file left to delete).
 */

import { deleteFile } from './api.js';
import { copyText, flash, saveTextFile } from './handoff.js';
import { t } from './i18n.js';

// The name the CLI gives an owner token file too (anon-hosting upload -o).
export const OWNER_SUFFIX = '.owner-token';
// The file is gone either way: treat these like a successful delete.
const ALREADY_GONE = new Set(['not_found', 'expired', 'download_limit_reached']);

export function OwnerToken(root, notice) {
  const part = (name) => root.querySelector(`[data-result="${name}"]`);
  const field = part('owner-token');
  const deleteButton = part('delete');
  const confirm = part('confirm');
  const yes = part('confirm-yes');
  const no = part('confirm-no');
  let stored = null;
  let deleting = false;

  part('copy-owner').addEventListener('click', async (event) => {
    const button = event.currentTarget;
    if (await copyText(stored.owner_token, field)) {
      notice.success(t('owner.copied'));
      flash(button);
    } else {
      notice.error('clipboard');
    }
  });
  part('save-owner').addEventListener('click', () => {
    saveTextFile(`${stored.name}${OWNER_SUFFIX}`, stored.owner_token);
    notice.success(t('owner.saved', { file: `${stored.name}${OWNER_SUFFIX}` }));
  });
  deleteButton.addEventListener('click', () => asking(true));
  no.addEventListener('click', () => asking(false));
  yes.addEventListener('click', remove);
  confirm.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !deleting) asking(false);
  });

  function asking(ask) {
    confirm.hidden = !ask;
    deleteButton.hidden = ask;
    (ask ? no : deleteButton).focus();
  }

  async function remove() {
    if (deleting || !stored) return;
    deleting = true;
    root.setAttribute('aria-busy', 'true');
    notice.info(t('owner.deleting'));
    try {
      await deleteFile(stored.owner_token);
      done(false);
    } catch (error) {
      if (ALREADY_GONE.has(error.code)) done(true);
      else {
        notice.error(error);
        asking(false);
      }
    } finally {
      deleting = false;
      root.removeAttribute('aria-busy');
    }
  }

  function done(already) {
    root.dispatchEvent(new CustomEvent('owner:deleted', { bubbles: true, detail: { already } }));
  }

  function show(data) {
    stored = data;
    field.value = data.owner_token;
    confirm.hidden = true;
    deleteButton.hidden = false;
  }

  function hide() {
    stored = null;
    field.value = '';
    confirm.hidden = true;
    deleteButton.hidden = false;
  }

  return { show, hide };
}
