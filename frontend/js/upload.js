/**
 * upload.js — the "Send a file" card: limits, options (expiry, download
 * limit, passphrase, upload password), drop zone, progress and Cancel.
 *
 * Choose, then send: files from dropzone.js ("dropzone:file", "dropzone:files")
 * or stage() are staged beside the options (each drop or pick adds to the list,
 * stagedlist.js), checked against the server's limits, and go up (api.js) only
 * when the person presses Send: resumably (a dropped connection shows
 * "Reconnecting…" and goes on by itself), one file through tus-upload.js, several
 * file by file and then joined as one bundle (tus-bundle.js); several files of at
 * most ONE_REQUEST_MAX in all go as one multipart request (api.js uploadBundle).
 * Files that come before /api/config wait staged. Emits "upload:done" (detail:
 * the server's answer) when they are stored.
 * The upload password is kept in sessionStorage (this tab only) once the
 * server has accepted it, and forgotten when the server refuses it. The
 * passphrase is cleared after each stored file: it belongs to that file.
 */

import { uploadBundle } from './api.js';
import { bindPicker } from './dropzone.js';
import { fillExpirySelect } from './expiry.js';
import { formatBytes, formatDuration, formatSize } from './format.js';
import { t } from './i18n.js';
import { messageFor, Notice } from './messages.js';
import { Progress } from './progress.js';
import { bindReveal } from './reveal.js';
import { StagedList } from './stagedlist.js';
import { uploadBundleResumable } from './tus-bundle.js';
import { ONE_REQUEST_MAX, uploadResumable } from './tus-upload.js';

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
  const list = StagedList(part('staged-list'));
  let staged = []; // the chosen files [{file, path}], until Send or Remove
  let sentAll = false; // every byte is sent: the server may be storing the file

  bindPicker(pickButton, part('input'));
  bindPicker(part('choose-folder'), part('folder-input'));
  bindPicker(part('add'), part('input'));
  root.addEventListener('dropzone:file', (event) => choose(event.detail.file));
  root.addEventListener('dropzone:files', (event) => add(event.detail.files));
  root.addEventListener('staged:remove', (event) => remove(event.detail.index));
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
      if (staged.length && !sendButton.disabled) send();
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
    list.setBusy(off);
  }

  /** Data down from main.js: the server's limits. */
  function configure(serverConfig) {
    config = serverConfig;
    delete limits.dataset.i18n;
    fillExpirySelect(expiry, config);
    part('password-field').hidden = !config.upload_password_required;
    if (config.upload_password_required && !password.value) password.value = remembered();
    showLimits();
    if (staged.length && tooLarge(staged)) unstage();
    setState(staged.length ? 'staged' : 'idle');
    if (staged.length) notice.clear();
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
    if (staged.length) showStaged();
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

  const totalOf = (items) => items.reduce((sum, item) => sum + item.file.size, 0);

  function tooLarge(items) {
    if (!config) return false;
    const size = totalOf(items);
    if (items.length > config.max_bundle_files) {
      notice.error('too_many_files', { count: items.length, max: config.max_bundle_files });
      return true;
    }
    if (size <= config.max_upload_bytes) return false;
    if (items.length === 1) notice.error('file_too_large', { name: items[0].file.name, size, max: config.max_upload_bytes });
    else notice.error('bundle_too_large', { count: items.length, size, max: config.max_upload_bytes });
    return true;
  }

  /** Stage `file` (a drop, a pick, a paste): nothing is sent before Send. */
  function choose(file) {
    add([{ file, path: file.name }]);
  }

  /** Add `items` ({file, path}) to what is staged, unless the whole would pass a limit. */
  function add(items) {
    if (current) return notice.error('busy');
    if (configFailed) return notice.error('no_config');
    const next = staged.concat(items);
    if (tooLarge(next)) return;
    staged = next;
    showStaged();
    setState('staged');
    const name = staged.length === 1 ? staged[0].file.name : t('upload.files', { count: staged.length });
    if (config) notice.info(t('upload.ready', { name }));
    else notice.info(t('upload.waiting'));
    sendButton.focus();
  }

  function remove(index) {
    if (current) return;
    staged = staged.filter((_, i) => i !== index);
    if (!staged.length) {
      unstage();
      return pickButton.focus();
    }
    showStaged();
    sendButton.focus();
  }

  function showStaged() {
    const size = totalOf(staged);
    const single = staged.length === 1;
    part('staged-name').textContent = single ? staged[0].file.name : t('upload.files', { count: staged.length });
    part('staged-size').textContent = single || !config ? formatSize(size)
      : t('upload.total', { size: formatBytes(size), max: formatBytes(config.max_upload_bytes) });
    part('unstage').textContent = t(single ? 'upload.unstage' : 'upload.unstageAll');
    list.show(staged);
  }

  function unstage() {
    staged = [];
    list.show(staged);
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
    if (!staged.length || refuse() !== false) return;
    const items = staged;
    const file = items.length === 1 ? items[0].file : { name: t('upload.files', { count: items.length }), size: totalOf(items) };
    notice.info(t('upload.sending', { name: file.name }));
    progress.start(file);
    sentAll = false;
    setState('uploading');
    const options = {
      expiresIn: Number(expiry.value),
      maxDownloads: Number(downloads.value) || undefined,
      passphrase: passphrase.value,
      password: config.upload_password_required ? password.value : '',
      onProgress: (loaded, total) => {
        list.progress(items, loaded, total);
        onProgress(loaded, total);
      },
      onReconnecting: (lost) => notice.info(t(lost ? 'upload.reconnecting' : 'upload.sending', { name: file.name })),
    };
    current = items.length === 1 ? uploadResumable(file, options) : sendBundle(items, options);
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
    if (tooLarge([{ file }])) return;
    staged = [{ file, path: file.name }];
    send();
  }

  return { configure, disable, choose, sendNow, notice, focus: () => pickButton.focus() };
}

/** A small bundle in one multipart request; a larger one file by file through tus, then joined. */
function sendBundle(items, options) {
  const total = items.reduce((sum, item) => sum + item.file.size, 0);
  return total <= ONE_REQUEST_MAX ? uploadBundle(items, options) : uploadBundleResumable(items, options);
}
