/**
 * Calls to Roster. The session cookie (HttpOnly) goes along by itself; the CSRF token of the session
 * is kept in memory only and sent on every state-changing call. No token is ever stored or put in
 * a URL.
 */

let csrfToken = null;
let onSignedOut = () => {};

export function setSession(session) {
  csrfToken = session ? session.csrfToken : null;
}

export function whenSignedOut(callback) {
  onSignedOut = callback;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headersFor(method, contentType) {
  const headers = { Accept: 'application/json' };
  if (contentType) headers['Content-Type'] = contentType;
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  return headers;
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: the status text will do
  }
  const message = body?.error?.message ?? body?.detail ?? `${response.status} ${response.statusText}`;
  return new ApiError(response.status, body?.error?.code ?? String(response.status), message);
}

/** A JSON call; `path` under /admin/v1 unless it starts with /console. */
export async function api(method, path, body) {
  const url = path.startsWith('/console/') ? path : `/admin/v1${path}`;
  const response = await fetch(url, {
    method,
    headers: headersFor(method, body === undefined ? null : 'application/json'),
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (!response.ok) {
    const error = await failure(response);
    if (response.status === 401 && !path.startsWith('/console/')) onSignedOut(error.message);
    throw error;
  }
  return response.status === 204 ? null : response.json();
}

export const get = (path) => api('GET', path);
export const post = (path, body = {}) => api('POST', path, body);

/**
 * Uploads a CSV file to the import endpoint, reporting the share of the file Roster has read so far
 * (it reads the upload as it imports, so this follows the import) to `onProgress(0..1)`.
 */
export function uploadCsv(query, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/admin/v1/imports?${query}`);
    for (const [name, value] of Object.entries(headersFor('POST', 'text/csv'))) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener('load', () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // handled below
      }
      if (xhr.status >= 200 && xhr.status < 300 && body) return resolve(body);
      const message = body?.error?.message ?? `${xhr.status} ${xhr.statusText}`;
      const error = new ApiError(xhr.status, body?.error?.code ?? String(xhr.status), message);
      error.lines = body?.errors;
      if (xhr.status === 401) onSignedOut(message);
      reject(error);
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', 'The upload failed (network error)')));
    xhr.send(file);
  });
}
