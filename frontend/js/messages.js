/**
 * messages.js — every sentence the page says about errors, in one table,
 * and the aria-live notices that announce them.
 *
 * A new error code is one line in MESSAGES. An entry is a string or a
 * function of the `detail` object passed to messageFor().
 */

import { formatBytes } from './format.js';

const MESSAGES = {
  // Server error codes (see docs/CONTRACT-draft.md).
  invalid_token: 'That token is not valid. Check that you copied all of it, with nothing added.',
  expired: 'This file has expired and is no longer available.',
  not_found: 'There is no file for this token. It may have expired or been deleted.',
  too_large: 'This file is larger than this server accepts.',
  insufficient_storage: 'The server has run out of space. Try again later.',
  bad_request: 'The server could not understand the request. Reload the page and try again.',
  unsupported_media_type: 'The server could not read this upload. Reload the page and try again.',
  internal_error: 'Something went wrong on the server. Try again in a moment.',
  download_limit_reached: 'This file was already downloaded as often as its sender allowed, so it is no longer available.',
  download_in_progress: 'The last allowed download of this file is running right now. Try again when it ends.',
  passphrase_required: 'This file is protected by a passphrase. Enter it to continue.',
  wrong_passphrase: 'That passphrase is not right. Check it and try again.',
  rate_limited: ({ retryAfter }) => `Too many tries in a short time. ${waitFor(retryAfter)}, then try again.`,
  forbidden:
    'This is an owner token: it can delete the file, but not download it. Use the download token or the share link.',
  unauthorized: 'That upload password is not right. Check it and try again.',
  storage_unavailable: 'The file storage is not available right now. Try again in a moment.',
  server_busy: ({ retryAfter }) => `The server is busy checking passphrases. ${waitFor(retryAfter)}, then try again.`,
  request_timeout: 'The connection stalled while sending. Check your connection and try again.',
  unavailable: 'The server is not answering right now. Try again in a moment.',
  timeout: 'The server took too long to answer. Try again.',
  // Our own codes.
  network_error: 'Could not reach the server. Check your connection and try again.',
  aborted: 'Upload cancelled. Nothing was stored.',
  file_too_large: ({ name, size, max }) =>
    `“${name}” is ${formatBytes(size)}. This server accepts files up to ${formatBytes(max)}, so it was not sent.`,
  one_file_only: 'Drop one file at a time.',
  folder: 'Folders cannot be sent. Put the folder in a zip archive and send that.',
  busy: 'Wait for the current upload to finish, or cancel it first.',
  no_config: 'Could not load this server’s settings, so uploads are off. Reload the page to try again.',
  empty_token: 'Paste a token or a share link first.',
  password_missing: 'This server asks for an upload password. Enter it, then choose the file again.',
  not_a_jwe: 'This does not look like a .jwe token file. Choose the .jwe file you were given.',
  clipboard: 'Could not copy automatically. Select the text and copy it by hand.',
  passphrase_missing: 'Enter the passphrase first.',
};

/** Retry-After seconds -> "Wait 2 minutes" (rounded up; at least a minute when unknown). */
function waitFor(seconds) {
  if (!Number.isFinite(seconds) || seconds <= 0) return 'Wait a minute';
  if (seconds < 60) return `Wait ${seconds} ${seconds === 1 ? 'second' : 'seconds'}`;
  const minutes = Math.ceil(seconds / 60);
  return `Wait ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}`;
}

const FALLBACK = 'Something went wrong. Try again in a moment.';

/**
 * Human sentence for an ApiError, an error code, or a code with details.
 * An ApiError is its own detail (e.g. retryAfter of a 429).
 */
export function messageFor(errorOrCode, detail = {}) {
  const code = typeof errorOrCode === 'string' ? errorOrCode : errorOrCode?.code;
  const entry = MESSAGES[code];
  if (typeof entry === 'function') {
    return entry(typeof errorOrCode === 'object' ? { ...errorOrCode, ...detail } : detail);
  }
  if (entry) return entry;
  return errorOrCode?.message && errorOrCode.message !== code ? errorOrCode.message : FALLBACK;
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
