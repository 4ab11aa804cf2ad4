/**
 * upload.js — the "Send a file" card: limits, expiry choice, drop zone,
 * progress and Cancel.
 *
 * Takes files from dropzone.js ("dropzone:file"), checks the size against
 * the server's limit before sending anything, then uploads with api.js.
 * Emits "upload:done" (detail: the server's answer) when the file is stored.
 */

import { uploadFile } from './api.js';
import { bindPicker } from './dropzone.js';
import { fillExpirySelect } from './expiry.js';
import { formatBytes, formatDuration } from './format.js';
import { messageFor, Notice } from './messages.js';
import { Progress } from './progress.js';

export function Upload(root) {
  const stage = root.querySelector('[data-upload="stage"]');
  const zone = root.querySelector('[data-dropzone]');
  const pickButton = root.querySelector('[data-upload="choose"]');
  const expiry = root.querySelector('[data-upload="expiry"]');
  const limits = root.querySelector('[data-upload="limits"]');
  const password = root.querySelector('[data-upload="password"]');
  const cancelButton = root.querySelector('[data-upload="cancel"]');
  const progress = Progress(root.querySelector('[data-upload="progress"]'));
  const notice = Notice(root.querySelector('[data-upload="notice"]'));
  let config = null;
  let current = null;

  bindPicker(pickButton, root.querySelector('[data-upload="input"]'));
  root.addEventListener('dropzone:file', (event) => send(event.detail.file));
  root.addEventListener('dropzone:refused', (event) => notice.error(event.detail.code));
  cancelButton.addEventListener('click', () => current?.cancel());
  // Enter in the password field opens the picker rather than reloading the page.
  root.querySelector('[data-upload="form"]').addEventListener('submit', (event) => {
    event.preventDefault();
    if (!pickButton.disabled) pickButton.click();
  });

  function setState(state) {
    stage.dataset.state = state;
    zone.toggleAttribute('data-busy', state !== 'idle');
    pickButton.disabled = state !== 'idle' || !config;
    expiry.disabled = state !== 'idle' || !config;
    password.disabled = state !== 'idle';
  }

  /** Data down from main.js: the server's limits. */
  function configure(serverConfig) {
    config = serverConfig;
    fillExpirySelect(expiry, config);
    root.querySelector('[data-upload="password-field"]').hidden = !config.upload_password_required;
    const longest = config.max_expires_in ? ` Kept for up to ${formatDuration(config.max_expires_in)}.` : '';
    limits.textContent = `Up to ${formatBytes(config.max_upload_bytes)} per file.${longest}`;
    setState('idle');
  }

  function disable(code) {
    config = null;
    limits.textContent = 'Uploads are unavailable.';
    setState('idle');
    notice.error(code);
  }

  async function send(file) {
    if (!config) return notice.error('no_config');
    if (current) return notice.error('busy');
    if (config.upload_password_required && !password.value) {
      password.focus();
      return notice.error('password_missing');
    }
    if (file.size > config.max_upload_bytes) {
      return notice.error('file_too_large', { name: file.name, size: file.size, max: config.max_upload_bytes });
    }
    notice.info(`Encrypting and sending “${file.name}”…`);
    progress.start(file);
    setState('uploading');
    current = uploadFile(file, { expiresIn: Number(expiry.value), password: password.value, onProgress });
    cancelButton.focus();
    let stored = null;
    try {
      stored = await current.promise;
    } catch (error) {
      if (error.code === 'aborted') notice.info(messageFor(error));
      else notice.error(error);
    }
    current = null;
    setState('idle');
    if (!stored) return pickButton.focus();
    notice.success(`“${stored.name}” is encrypted and stored.`);
    root.dispatchEvent(new CustomEvent('upload:done', { bubbles: true, detail: stored }));
  }

  function onProgress(loaded, total) {
    if (loaded >= total) progress.finishing();
    else progress.update(loaded, total);
  }

  setState('idle');
  return { configure, disable, focus: () => pickButton.focus() };
}
