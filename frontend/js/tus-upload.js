/**
 * tus-upload.js — a resumable upload (tus 1.0 at /api/uploads) with the vendored tus-js-client.
 *
 * uploadResumable(file, options) answers { promise, cancel, handle, forget }, the promise resolving to
 * the server's JSON for the stored file (that of POST /api/files, which stays for curl and scripts),
 * or for a bundle's file (options.bundled, a member: `bundle` in its metadata) {kind: "member", ...}
 * without tokens, its file opening only once the bundle is joined. The page makes a random 256-bit
 * secret per upload and sends it as the static Upload-Secret header; the server derives the
 * file key's wrapping key from it and keeps neither. The upload's URL and secret stay in
 * localStorage under the file's path (options.path, else its name), size and date only until the
 * upload finishes or is cancelled, so the same file dropped again after a closed tab resumes where it
 * stopped. A bundle's file (options.bundled) keeps its entry until forget(), once the bundle is
 * joined, and handle() gives its {id, url, secret} for the join; a 429 at its creation is waited out.
 * A dropped connection is retried by itself (onReconnecting(true) until bytes move again);
 * cancel() sends DELETE and forgets the entry.
 */

import '../vendor/tus.js';
import { ApiError, errorFrom, parseJson } from './api.js';

const { Upload } = window.tus;
const STORE = 'anon-hosting.resume.';
const RETRY_DELAYS = [0, 1000, 2000, 4000, 8000, 15000, 30000, 30000, 60000, 60000];
const SECRET_BYTES = 32;
// A file up to this size goes up in its creation request (creation-with-upload), as a plain upload
// would, and so does a bundle up to it (upload.js); a larger one gets its URL first, so that a
// dropped connection can resume: resending this much costs less than a round trip per file.
export const ONE_REQUEST_MAX = 8 * 1024 * 1024;

function entryKey(file, path) {
  return `${STORE}${path ?? file.name}|${file.size}|${file.lastModified}`;
}

function readEntry(key) {
  try {
    const entry = JSON.parse(localStorage.getItem(key) ?? 'null');
    return entry && typeof entry.secret === 'string' ? entry : null;
  } catch {
    return null; // storage blocked or a broken entry: start afresh
  }
}

function writeEntry(key, entry) {
  try {
    localStorage.setItem(key, JSON.stringify(entry));
  } catch {
    // storage blocked: this upload cannot outlive the tab
  }
}

function forget(key) {
  try {
    localStorage.removeItem(key);
  } catch {
    // storage blocked: nothing was kept
  }
}

function newSecret() {
  const bytes = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function statusOf(error) {
  return error.originalResponse ? error.originalResponse.getStatus() : 0;
}

function retriable(status) {
  return status === 0 || status >= 500 || status === 409 || status === 423;
}

function apiError(error) {
  const response = error.originalResponse;
  if (!response) return new ApiError('network_error');
  return errorFrom(response.getStatus(), parseJson(response.getBody()), response.getHeader('Retry-After'));
}

function finishedAnswer(body) {
  return Boolean(body && (body.token || body.kind === 'member'));
}

/** The finished upload's JSON again (GET with the secret): when a closed tab's upload finished unseen,
 * the resumed one learns it from a HEAD, which has no body. */
async function result(url, secret) {
  let response;
  try {
    response = await fetch(url, { cache: 'no-store', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Secret': secret } });
  } catch {
    throw new ApiError('network_error');
  }
  const body = parseJson(await response.text().catch(() => ''));
  if (!response.ok || !finishedAnswer(body)) throw errorFrom(response.status, body, response.headers.get('Retry-After'));
  return body;
}

/** DELETE a finished upload's record (tus termination): what is left of it once its file is deleted. */
export async function terminate({ url, secret }) {
  try {
    await fetch(url, { method: 'DELETE', cache: 'no-store', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Secret': secret } });
  } catch {
    // the record expires with UPLOAD_SESSION_TTL
  }
}

export function uploadResumable(file, options = {}) {
  const { expiresIn, maxDownloads, passphrase, password, onProgress, onReconnecting, path, bundled } = options;
  const key = entryKey(file, path);
  const entry = readEntry(key) ?? { secret: newSecret(), url: null };
  const headers = { 'Upload-Secret': entry.secret, Accept: 'application/json' };
  if (password) headers.Authorization = `Bearer ${password}`;
  const metadata = { filename: file.name };
  if (bundled) metadata.bundle = ''; // a bundle member: no token, the server's allowance for bundle files
  if (expiresIn) metadata.expires_in = String(expiresIn);
  if (maxDownloads) metadata.max_downloads = String(maxDownloads);
  if (passphrase) metadata.passphrase = passphrase;
  let upload = null;
  let settle = null;
  let reconnecting = false;
  const setReconnecting = (now) => {
    if (now !== reconnecting) onReconnecting?.((reconnecting = now));
  };
  const promise = new Promise((resolve, reject) => {
    settle = { resolve, reject };
    upload = new Upload(file, {
      endpoint: '/api/uploads',
      uploadUrl: entry.url,
      headers,
      metadata,
      retryDelays: RETRY_DELAYS,
      // No chunkSize: one PATCH carries the rest of the file. The server commits whole 1 MiB chunks as
      // they stream and syncs them when a connection breaks, so smaller requests would only add a
      // wait for that sync at each boundary (docs/performance.md, "Resumable uploads").
      uploadDataDuringCreation: file.size <= ONE_REQUEST_MAX,
      storeFingerprintForResuming: false, // the entry above holds the URL with its secret
      onUploadUrlAvailable() {
        entry.url = upload.url;
        writeEntry(key, entry);
      },
      onShouldRetry(error) {
        const status = statusOf(error);
        if (bundled && status === 429 && !upload.url) return true; // the creation rate limit: wait, then go on
        const again = retriable(status);
        if (again) setReconnecting(true);
        return again;
      },
      onProgress(sent, total) {
        if (sent > 0) setReconnecting(false);
        onProgress?.(sent, total);
      },
      onSuccess({ lastResponse }) {
        const body = parseJson(lastResponse.getBody());
        const answer = finishedAnswer(body) ? Promise.resolve(body) : result(upload.url, entry.secret);
        answer.then(resolve, reject).finally(() => bundled || forget(key));
      },
      onError(error) {
        reject(apiError(error));
      },
    });
    upload.start();
  });
  function cancel() {
    forget(key);
    upload.abort(true).catch(() => {}); // DELETE; one that fails leaves the upload to expire
    settle.reject(new ApiError('aborted'));
  }
  const handle = () => ({ id: upload.url?.split('/').pop(), url: upload.url, secret: entry.secret });
  return { promise, cancel, handle, forget: () => forget(key) };
}
