/**
 * upload.js — the "Send a file" card: limits, options (expiry, download
 * limit, passphrase, upload password), drop zone, progress and Cancel.
 *
 * Choose, then send: a file from dropzone.js ("dropzone:file") or stage()
 * is staged beside the options, checked against the server's limits, and
 * goes up (api.js) only when the person presses Send; a file that comes
 * before /api/config waits staged. It goes up resumably (tus-upload.js): a
 * dropped connection shows "Reconnecting…" and goes on by itself. Emits
 * "upload:done" (detail: the server's answer) when the file is stored.
 * The upload password is kept in sessionStorage (this tab only) once the
 * server has accepted it, and forgotten when the server refuses it. The
 * passphrase is cleared after each stored file: it belongs to that file.
 */

import { bindPicker } from './dropzone.js';
import { fillExpirySelect } from './expiry.js';
import { formatBytes, formatDuration, formatSize } from './format.js';
import { t } from './i18n.js';
import { messageFor, Notice } from './messages.js';
import { Progress } from './progress.js';
import { bindReveal } from './reveal.js';
import { uploadResumable } from './tus-upload.js';

const PASSWORD_KEY = 'anon-hosting.upload-password';
const MAX_PASSPHRASE_BYTES = 1024; // the server's limit, in UTF-8 bytes
const NOT_LATIN1 = /[^\u0000-\u00ff]/u; // an HTTP header cannot carry these

function remembered() {
  try {
    return sessionStorage.getItem(PASSWORD_KEY) ?? '';
  } catch {
    return ''; // storage blocked: the person types it each time
  }
}

function remember(value) {
  try {
    if (value) sessionStorage.setItem(PASSWORD_KEY, value);
    else sessionStorage.removeItem(PASSWORD_KEY);
  } catch {
    // storage blocked: nothing to keep
  }
}

export function Upload(root) {
  const part = (name) => root.querySelector(`[data-upload="${name}"]`);
  const stage = part('stage');
  const zone = root.querySelector('[data-dropzone]');
  const pickButton = part('choose');
  const sendButton = part('send');
  const expiry = part('expiry');
  const downloads = part('downloads');
  const passphrase = part('passphrase');
  const limits = part('limits');
  const password = part('password');
  const cancelButton = part('cancel');
  const progress = Progress(part('progress'));
  const notice = Notice(part('notice'));
  const reveal = bindReveal(root.querySelector('[data-part="sender"]'));
  let config = null;
  let configFailed = false;
  let current = null;
  let staged = null; // the chosen file, until Send or Remove
  let sentAll = false; // every byte is sent: the server may be storing the file

  bindPicker(pickButton, part('input'));
  root.addEventListener('dropzone:file', (event) => choose(event.detail.file));
  root.addEventListener('dropzone:refused', (event) => notice.error(event.detail.code));
  cancelButton.addEventListener('click', () => current?.cancel());
  sendButton.addEventListener('click', () => send());
  part('unstage').addEventListener('click', () => {
    unstage();
    notice.clear();
    pickButton.focus();
  });
  // Enter in a text field sends the staged file, or opens the picker, rather than reloading the page.
  for (const form of [part('form'), part('password-field')]) {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (staged && !sendButton.disabled) send();
      else if (!pickButton.disabled) pickButton.click();
    });
  }

  function setState(state) {
    const off = state === 'uploading';
    stage.dataset.state = state;
    zone.toggleAttribute('data-busy', off);
    pickButton.disabled = off || !config;
    sendButton.disabled = off || !config;
    for (const control of [expiry, downloads, passphrase]) control.disabled = off || !config;
    password.disabled = off;
  }

  /** Data down from main.js: the server's limits. */
  function configure(serverConfig) {
    config = serverConfig;
    delete limits.dataset.i18n;
    fillExpirySelect(expiry, config);
    part('password-field').hidden = !config.upload_password_required;
    if (config.upload_password_required && !password.value) password.value = remembered();
    showLimits();
    if (staged && tooLarge(staged)) unstage();
    setState(staged ? 'staged' : 'idle');
    if (staged) notice.clear();
  }

  function showLimits() {
    if (!config) return;
    const size = formatBytes(config.max_upload_bytes);
    limits.textContent = config.max_expires_in
      ? t('upload.limits.longest', { size, duration: formatDuration(config.max_expires_in) })
      : t('upload.limits', { size });
  }

  /** Redraw what depends on the language: the limits, the expiry choices, the staged size. */
  function relabel() {
    if (staged) part('staged-size').textContent = formatSize(staged.size);
    if (!config) return;
    const chosen = expiry.value;
    fillExpirySelect(expiry, config);
    expiry.value = chosen;
    showLimits();
  }

  function disable(code) {
    config = null;
    configFailed = true;
    unstage();
    limits.dataset.i18n = 'upload.unavailable';
    limits.textContent = t('upload.unavailable');
    setState('idle');
    notice.error(code);
  }

  function tooLarge(file) {
    if (!config || file.size <= config.max_upload_bytes) return false;
    notice.error('file_too_large', { name: file.name, size: file.size, max: config.max_upload_bytes });
    return true;
  }

  /** Stage `file` (a drop, a pick, a paste): nothing is sent before Send. */
  function choose(file) {
    if (current) return notice.error('busy');
    if (configFailed) return notice.error('no_config');
    if (tooLarge(file)) return;
    staged = file;
    part('staged-name').textContent = file.name;
    part('staged-size').textContent = formatSize(file.size);
    setState('staged');
    if (config) notice.info(t('upload.ready', { name: file.name }));
    else notice.info(t('upload.waiting'));
    sendButton.focus();
  }

  function unstage() {
    staged = null;
    if (!current) setState('idle');
  }

  /** Why the staged file cannot go yet (the notice says it), or false. */
  function refuse() {
    if (!config) return notice.error('no_config');
    if (current) return notice.error('busy');
    if (config.upload_password_required && !password.value) {
      password.focus();
      return notice.error('password_missing');
    }
    const bad = config.upload_password_required && password.value.match(NOT_LATIN1);
    if (bad) {
      password.focus();
      return notice.error('password_charset', { character: bad[0] });
    }
    const bytes = new TextEncoder().encode(passphrase.value).length;
    if (bytes > MAX_PASSPHRASE_BYTES) {
      passphrase.focus();
      return notice.error('passphrase_too_long', { bytes, max: MAX_PASSPHRASE_BYTES });
    }
    return false;
  }

  async function send() {
    if (!staged || refuse() !== false) return;
    const file = staged;
    notice.info(t('upload.sending', { name: file.name }));
    progress.start(file);
    sentAll = false;
    setState('uploading');
    current = uploadResumable(file, {
      expiresIn: Number(expiry.value),
      maxDownloads: Number(downloads.value) || undefined,
      passphrase: passphrase.value,
      password: config.upload_password_required ? password.value : '',
      onProgress,
      onReconnecting: (lost) => notice.info(t(lost ? 'upload.reconnecting' : 'upload.sending', { name: file.name })),
    });
    cancelButton.focus();
    let stored = null;
    let error = null;
    try {
      stored = await current.promise;
    } catch (caught) {
      error = caught;
    }
    current = null;
    progress.stop();
    if (error) {
      setState('staged'); // the file stays chosen: Send again, or Remove
      return failed(error);
    }
    unstage();
    if (config.upload_password_required) remember(password.value);
    passphrase.value = '';
    reveal.hideAll();
    notice.success(t('upload.stored', { name: stored.name }));
    root.dispatchEvent(new CustomEvent('upload:done', { bubbles: true, detail: stored }));
  }

  function failed(error) {
    if (error.code === 'aborted') notice.info(messageFor(sentAll ? 'aborted_late' : 'aborted'));
    else notice.error(error);
    if (error.code === 'unauthorized') {
      remember('');
      password.focus();
      password.select();
    } else {
      sendButton.focus();
    }
  }

  function onProgress(loaded, total) {
    sentAll = loaded >= total;
    if (sentAll) progress.finishing();
    else progress.update(loaded, total);
  }

  setState('idle');
  document.addEventListener('i18n:changed', relabel);
  /** Send `file` at once (the Text tab's secret.txt): staged and sent in one step. */
  function sendNow(file) {
    if (current) return notice.error('busy');
    if (tooLarge(file)) return;
    staged = file;
    send();
  }

  return { configure, disable, choose, sendNow, notice, focus: () => pickButton.focus() };
}
