/**
 * retrieve.js — the "Get a file back" card.
 *
 * Three ways in: a pasted token (or whole share link), a .jwe file
 * (picked or dropped on the card), or a share link opened in the browser
 * (main.js hands the token down through lookup()). It first asks for the
 * file's info and downloads NOTHING until the person clicks Download;
 * the download itself is a native form POST handled by api.js.
 */

import { downloadFile, getFileInfo } from './api.js';
import { bindPicker } from './dropzone.js';
import { formatDownloadsLeft, formatExpiry, formatSize } from './format.js';
import { Notice } from './messages.js';

const MAX_JWE_FILE_BYTES = 16 * 1024; // tokens are ~320 bytes
// After these, the file cannot come back: stop offering the Download button.
const GONE = new Set(['expired', 'not_found', 'invalid_token', 'download_limit_reached']);

/** Accept a bare token, or a share link / text holding "#token". */
export function tokenFrom(text) {
  const cleaned = String(text).replace(/\s+/g, '');
  const hash = cleaned.lastIndexOf('#');
  return hash >= 0 ? cleaned.slice(hash + 1) : cleaned;
}

export function Retrieve(root) {
  const part = (name) => root.querySelector(`[data-retrieve="${name}"]`);
  const form = part('form');
  const field = part('token');
  const info = part('info');
  const downloadButton = part('download');
  const notice = Notice(part('notice'));
  let token = null;
  let busy = false;

  bindPicker(part('choose'), part('input'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    lookup(field.value, 'the pasted token');
  });
  root.addEventListener('dropzone:file', (event) => readJweFile(event.detail.file));
  root.addEventListener('dropzone:refused', (event) => notice.error(event.detail.code));
  downloadButton.addEventListener('click', download);
  part('reset').addEventListener('click', reset);

  async function readJweFile(file) {
    const text = file.size <= MAX_JWE_FILE_BYTES ? await file.text() : '';
    if (!tokenFrom(text)) return notice.error('not_a_jwe');
    lookup(text, `“${file.name}”`);
  }

  /** Data down: look up a token and show what it opens. */
  async function lookup(text, source) {
    const candidate = tokenFrom(text);
    if (!candidate) return notice.error('empty_token');
    if (busy) return;
    setBusy(true);
    notice.info('Checking the token…');
    try {
      const details = await getFileInfo(candidate);
      token = candidate;
      showInfo(details, source);
      notice.success(`Found “${details.name}”. Nothing is downloaded until you click Download.`);
    } catch (error) {
      hideInfo();
      notice.error(error);
    } finally {
      setBusy(false);
    }
  }

  async function download() {
    if (!token || busy) return;
    setBusy(true);
    try {
      const details = await downloadFile(token);
      showInfo(details);
      notice.success(`Downloading “${details.name}”. Your browser shows the progress.`);
    } catch (error) {
      if (GONE.has(error.code)) hideInfo();
      notice.error(error);
    } finally {
      setBusy(false);
    }
  }

  function showInfo(details, source) {
    part('name').textContent = details.name;
    part('size').textContent = formatSize(details.size);
    part('size').dataset.bytes = String(details.size);
    part('expires').textContent = formatExpiry(details.expires_at);
    part('downloads').textContent = formatDownloadsLeft(details.downloads_left);
    if (source) part('source').textContent = `From ${source}.`;
    const wasHidden = info.hidden;
    info.hidden = false;
    if (wasHidden) part('heading').focus();
  }

  function hideInfo() {
    token = null;
    info.hidden = true;
  }

  function reset() {
    hideInfo();
    field.value = '';
    notice.clear();
    field.focus();
  }

  function setBusy(value) {
    busy = value;
    // aria-busy rather than disabling buttons, so keyboard focus stays put.
    root.setAttribute('aria-busy', String(value));
  }

  return { lookup };
}
