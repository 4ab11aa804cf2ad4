/**
 * messages.js — every sentence the page says about errors, by code,
 * and the aria-live notices that announce them.
 *
 * A new error code is one key, error.<code>, in each catalog under
 * locales/; its {placeholders} come from the error or the detail object.
 */

import { formatBytes } from './format.js';
import { t } from './i18n.js';

// Codes whose sentence needs details: a function of the error and its detail.
const DETAILS = {
  rate_limited: ({ retryAfter }) => ({ wait: waitFor(retryAfter) }),
  server_busy: ({ retryAfter }) => ({ wait: waitFor(retryAfter) }),
  file_too_large: ({ name, size, max }) => ({ name, size: formatBytes(size), max: formatBytes(max) }),
  bundle_too_large: ({ count, size, max }) => ({ count, size: formatBytes(size), max: formatBytes(max) }),
  text_too_long: ({ bytes, max }) => ({ bytes, max: formatBytes(max) }),
};
// A bad_request's reason is the server's own sentence (in English), shown rather than hidden.
const WITH_REASON = new Set(['bad_request']);

/** Retry-After seconds -> "Wait 2 minutes" (rounded up; a minute when unknown). */
function waitFor(seconds) {
  if (!Number.isFinite(seconds) || seconds <= 0) return t('wait.unknown');
  if (seconds < 60) return t('wait.seconds', { count: seconds });
  return t('wait.minutes', { count: Math.ceil(seconds / 60) });
}

/**
 * Human sentence, in the page's language, for an ApiError, an error code,
 * or a code with details. An ApiError is its own detail (e.g. retryAfter of a 429).
 */
export function messageFor(errorOrCode, detail = {}) {
  const code = typeof errorOrCode === 'string' ? errorOrCode : errorOrCode?.code;
  const key = `error.${code}`;
  if (t(key) === key) return t('error.fallback');
  const all = typeof errorOrCode === 'object' ? { ...errorOrCode, ...detail } : detail;
  const said = errorOrCode?.message; // an Error's message is not enumerable: not in `all`
  const reason = WITH_REASON.has(code) && said && said !== code ? said : '';
  if (reason) return t('refused.reason', { reason });
  return t(key, DETAILS[code] ? DETAILS[code](all) : all);
}

/**
 * A notice bound to an aria-live element (present in the HTML from the
 * start, so screen readers announce every change).
 */
export function Notice(el) {
  let pending = 0;

  function show(text, tone = 'info') {
    clearTimeout(pending);
    el.dataset.tone = tone;
    // Clear first so repeating the same sentence is announced again.
    el.textContent = '';
    pending = setTimeout(() => {
      el.textContent = text;
    }, 30);
  }

  return {
    info: (text) => show(text, 'info'),
    success: (text) => show(text, 'success'),
    error: (errorOrCode, detail) => show(messageFor(errorOrCode, detail), 'error'),
    clear: () => {
      clearTimeout(pending);
      el.textContent = '';
      delete el.dataset.tone;
    },
  };
}
