/**
 * api.js — the one module that talks to the server.
 *
 * Every failure is turned into an ApiError whose `code` is the server's
 * error code ({"error": {"code", "message"}}), or one of our own:
 * "network_error" (no answer) and "aborted" (the person cancelled).
 * Tokens only ever travel in a POST body, never in a URL.
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
  constructor(code, message = '', status = 0) {
    super(message || code);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
  }
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function errorFrom(status, body) {
  const error = body && body.error;
  if (error && typeof error.code === 'string') {
    return new ApiError(error.code, error.message, status);
  }
  return new ApiError(CODE_BY_STATUS[status] || 'internal_error', '', status);
}

async function request(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { cache: 'no-store', credentials: 'same-origin', ...options });
  } catch {
    throw new ApiError('network_error');
  }
  const body = parseJson(await response.text().catch(() => ''));
  if (!response.ok) throw errorFrom(response.status, body);
  if (body === null) throw new ApiError('internal_error', '', response.status);
  return body;
}

function postToken(path, token) {
  return request(path, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ token }) });
}

/** GET /api/config -> {website_name, max_upload_bytes, default_expires_in, max_expires_in} */
export function getConfig() {
  return request('/api/config', { headers: { Accept: 'application/json' } });
}

/** POST /api/files/info -> {name, size, created_at, expires_at, downloads_left} */
export function getFileInfo(token) {
  return postToken('/api/files/info', token);
}

/**
 * Upload one file as a raw body. XMLHttpRequest rather than fetch because
 * only XHR reports upload progress. `password` is only for servers that set
 * UPLOAD_PASSWORD (config.upload_password_required). Returns {promise, cancel}; the promise
 * gives {token, name, size, expires_at, max_downloads}.
 */
export function uploadFile(file, { expiresIn, password, onProgress } = {}) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    const query = expiresIn === undefined ? '' : `?expires_in=${encodeURIComponent(expiresIn)}`;
    xhr.open('POST', `/api/files${query}`);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.setRequestHeader('X-File-Name', encodeURIComponent(file.name));
    xhr.setRequestHeader('Accept', 'application/json');
    if (password) xhr.setRequestHeader('Authorization', `Bearer ${password}`);
    xhr.upload.addEventListener('progress', (event) => {
      onProgress?.(event.loaded, event.lengthComputable ? event.total : file.size);
    });
    xhr.addEventListener('load', () => {
      const body = parseJson(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300 && body && body.token) resolve(body);
      else reject(errorFrom(xhr.status, body));
    });
    xhr.addEventListener('error', () => reject(new ApiError('network_error')));
    xhr.addEventListener('abort', () => reject(new ApiError('aborted')));
    xhr.send(file);
  });
  return { promise, cancel: () => xhr.abort() };
}

/**
 * Start a native browser download of the file behind `token`.
 *
 * A real form POST (never a Blob) so the browser streams the file straight
 * to disk. Info is checked again first: an error answer to the form would
 * replace the page with JSON, so we only submit when the file is there.
 */
export async function downloadFile(token) {
  const info = await getFileInfo(token);
  const form = document.createElement('form');
  form.method = 'post';
  form.action = '/api/files/retrieve';
  form.hidden = true;
  const input = document.createElement('input');
  input.type = 'hidden';
  input.name = 'token';
  input.value = token;
  form.append(input);
  document.body.append(form);
  form.submit();
  form.remove();
  return info;
}
