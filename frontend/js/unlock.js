/**
 * unlock.js — the passphrase prompt of the "Get a file back" card, shown only
 * when the server says the file needs one (401 passphrase_required).
 *
 * Data down: ask() shows the prompt and focuses the field; refused() keeps
 *            it and selects the text (a wrong passphrase); hide() masks and
 *            clears it.
 * Events up: "unlock:submit" detail {passphrase}, "unlock:reset".
 */

import { bindReveal } from './reveal.js';

export function Unlock(root) {
  const field = root.querySelector('[data-retrieve="passphrase"]');
  const reveal = bindReveal(root);
  const emit = (type, detail) => root.dispatchEvent(new CustomEvent(type, { bubbles: true, detail }));

  root.addEventListener('submit', (event) => {
    event.preventDefault();
    emit('unlock:submit', { passphrase: field.value });
  });
  root.querySelector('[data-retrieve="unlock-reset"]').addEventListener('click', () => emit('unlock:reset'));

  function ask() {
    const wasHidden = root.hidden;
    root.hidden = false;
    if (wasHidden) field.value = '';
    field.focus();
  }

  function refused() {
    field.focus();
    field.select();
  }

  function hide() {
    root.hidden = true;
    field.value = '';
    reveal.hideAll();
  }

  return { ask, refused, hide };
}
