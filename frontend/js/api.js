/**
 * api.js — the one module that talks to the server.
 *
 * Every failure is turned into an ApiError whose `code` is the server's
 * error code ({"error": {"code", "message"}}), or one of our own:
 * "network_error" (no answer) and "aborted" (the person cancelled).
 * A 429 also carries `retryAfter` (seconds, from the Retry-After header).
 * Tokens and passphrases only ever travel in a POST body or a header,
 * never in a URL.
 */

const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json' };

// When an answer has no JSON error body (a proxy page, say), guess from the status.
const CODE_BY_STATUS = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  410: 'expired',
  413: 'too_large',
  429: 'rate_limited',
  502: 'unavailable',
  503: 'unavailable',
  504: 'timeout',
  507: 'insufficient_storage',
};

export class ApiError extends Error {
  constructor(code, message = '', status = 0, retryAfter = null) {
    super(message || code);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

export function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Retry-After in seconds (a number of seconds or an HTTP date), or null. */
function secondsFrom(retryAfter) {
  if (!retryAfter) return null;
  const seconds = /^\d+$/.test(retryAfter.trim())
    ? Number(retryAfter)
    : (Date.parse(retryAfter) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : null;
}

export function errorFrom(status, body, retryAfter) {
  const error = body && body.error;
  const wait = secondsFrom(retryAfter);
  if (error && typeof error.code === 'string') {
    return new ApiError(error.code, error.message, status, wait);
  }
  return new ApiError(CODE_BY_STATUS[status] || 'internal_error', '', status, wait);
}

async function request(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { cache: 'no-store', credentials: 'same-origin', ...options });
  } catch {
    throw new ApiError('network_error');
  }
  const body = parseJson(await response.text().catch(() => ''));
  if (!response.ok) throw errorFrom(response.status, body, response.headers.get('Retry-After'));
  if (response.status === 204) return null;
  if (body === null) throw new ApiError('internal_error', '', response.status);
  return body;
}

function postToken(path, token, passphrase) {
  const body = passphrase ? { token, passphrase } : { token };
  return request(path, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });
}

/** GET /api/config -> {website_name, max_upload_bytes, default_expires_in, max_expires_in} */
export function getConfig() {
  return request('/api/config', { headers: { Accept: 'application/json' } });
}

/**
 * POST /api/files/info -> {name, size, created_at, expires_at, downloads_left, downloads_in_progress}.
 * A file with a passphrase answers 401 passphrase_required without one,
 * 403 wrong_passphrase with a wrong one.
 */
export function getFileInfo(token, passphrase = '') {
  return postToken('/api/files/info', token, passphrase);
}

/** POST /api/files/delete with the OWNER token -> nothing (204). */
export async function deleteFile(ownerToken) {
  await postToken('/api/files/delete', ownerToken);
}

/**
 * Upload several files as one bundle in one multipart request (a bundle up to ONE_REQUEST_MAX):
 * the options first, then one `file` part per item ({file, path}) named by its path in the folder
 * dropped. Answers { promise, cancel } like uploadResumable (tus-upload.js), the promise resolving
 * to the bundle's JSON (kind "bundle", files [{index, name, size}]); onProgress counts body bytes.
 */
export function uploadBundle(items, { expiresIn, maxDownloads, passphrase, password, onProgress } = {}) {
  const form = new FormData();
  if (expiresIn !== undefined) form.append('expires_in', String(expiresIn));
  if (maxDownloads) form.append('max_downloads', String(maxDownloads));
  if (passphrase) form.append('passphrase', passphrase);
  for (const { file, path } of items) form.append('file', file, path);
  const size = items.reduce((sum, item) => sum + item.file.size, 0);
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', '/api/files');
    xhr.setRequestHeader('Accept', 'application/json');
    if (password) xhr.setRequestHeader('Authorization', `Bearer ${password}`);
    xhr.upload.addEventListener('progress', (event) => {
      onProgress?.(event.loaded, event.lengthComputable ? event.total : size);
    });
    xhr.addEventListener('load', () => {
      const body = parseJson(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300 && body && body.token) resolve(body);
      else reject(errorFrom(xhr.status, body, xhr.getResponseHeader('Retry-After')));
    });
    xhr.addEventListener('error', () => reject(new ApiError('network_error')));
    xhr.addEventListener('abort', () => reject(new ApiError('aborted')));
    xhr.send(form);
  });
  return { promise, cancel: () => xhr.abort() };
}

/**
 * POST /api/bundles: join finished resumable uploads ({id, secret, path} each; the secrets travel in
 * this body only) into one bundle, with the bundle's options -> the answer of a multipart bundle
 * upload (kind "bundle", files [{index, name, size}]).
 */
export function joinBundle(uploads, { expiresIn, maxDownloads, passphrase, password } = {}) {
  const body = { uploads };
  if (expiresIn !== undefined) body.expires_in = expiresIn;
  if (maxDownloads) body.max_downloads = maxDownloads;
  if (passphrase) body.passphrase = passphrase;
  const headers = password ? { ...JSON_HEADERS, Authorization: `Bearer ${password}` } : JSON_HEADERS;
  return request('/api/bundles', { method: 'POST', headers, body: JSON.stringify(body) });
}

/**
 * POST /api/files/retrieve -> the file's bytes as UTF-8 text (a short secret,
 * revealed in the page). Counts as one download, like the form POST.
 */
export async function revealText(token, passphrase = '') {
  const body = passphrase ? { token, passphrase } : { token };
  let response;
  try {
    response = await fetch('/api/files/retrieve', {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify(body),
      cache: 'no-store',
      credentials: 'same-origin',
    });
    if (response.ok) return new TextDecoder().decode(await response.arrayBuffer());
  } catch {
    throw new ApiError('network_error');
  }
  const error = parseJson(await response.text().catch(() => ''));
  throw errorFrom(response.status, error, response.headers.get('Retry-After'));
}

function hiddenInput(name, value) {
  const input = document.createElement('input');
  input.type = 'hidden';
  input.name = name;
  input.value = value;
  return input;
}

/**
 * Start a native browser download of the file behind `token` (of a bundle's file `index`, or
 * without it the bundle's zip).
 *
 * A real form POST (never a Blob) so the browser streams the file straight
 * to disk. Info is checked again first: an error answer to the form replaces
 * the page (with a short page saying why, see http/errors.py), so we only
 * submit when the file is there and a download slot is free (not every
 * remaining one held by a running download).
 */
export async function downloadFile(token, passphrase = '', index = null) {
  const info = await getFileInfo(token, passphrase);
  const left = index === null ? info.downloads_left : info.files?.[index]?.downloads_left;
  if (typeof left === 'number' && left <= 0) throw new ApiError('download_limit_reached', '', 410);
  if (typeof left === 'number' && info.downloads_in_progress >= left) {
    throw new ApiError('download_in_progress', '', 409);
  }
  const form = document.createElement('form');
  form.method = 'post';
  form.action = '/api/files/retrieve';
  form.hidden = true;
  form.append(hiddenInput('token', token));
  if (passphrase) form.append(hiddenInput('passphrase', passphrase));
  if (index !== null) form.append(hiddenInput('file', String(index)));
  document.body.append(form);
  form.submit();
  form.remove();
  return info;
}
