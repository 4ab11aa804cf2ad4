/**
 * reveal.js — the Show/Hide button beside a password field.
 *
 * Markup: <button data-reveal="input-id"><span data-reveal-word></span>
 * <span class="visually-hidden">passphrase</span></button>. The visible word
 * flips between Show and Hide; the hidden rest keeps the accessible name
 * specific ("Show passphrase"). hideAll() masks every field again (after an
 * upload, on reset), so a revealed secret never stays on screen by accident.
 */

import { t } from './i18n.js';

function toggle(button, input, show) {
  input.type = show ? 'text' : 'password';
  const word = button.querySelector('[data-reveal-word]');
  word.dataset.i18n = show ? 'reveal.hide' : 'reveal.show';
  word.textContent = t(show ? 'reveal.hide' : 'reveal.show');
}

/** Bind every [data-reveal] button inside `root`; returns {hideAll}. */
export function bindReveal(root) {
  const pairs = Array.from(root.querySelectorAll('[data-reveal]'), (button) => [
    button,
    document.getElementById(button.dataset.reveal),
  ]).filter(([, input]) => input);

  for (const [button, input] of pairs) {
    button.addEventListener('click', () => toggle(button, input, input.type === 'password'));
  }
  return {
    hideAll: () => pairs.forEach(([button, input]) => toggle(button, input, false)),
  };
}
