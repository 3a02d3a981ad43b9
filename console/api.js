/**
 * Calls to Roster. The session cookie (HttpOnly) goes along by itself; the CSRF token of the session
 * is kept in memory only and sent on every state-changing call. No token is ever stored or put in
 * a URL.
 */

let csrfToken = null;
let onSignedOut = () => {};

/**
 * The directory the console works in (README "Directories"): the admin API of a directory is
 * /admin/v1/directories/{id}/…; none chosen (or `default`) is the default directory at /admin/v1/….
 * The choice (its id and slug, nothing secret) is kept for the tab in sessionStorage.
 */
const DIRECTORY_KEY = 'roster.console.directory';
let directory = readChoice();

function readChoice() {
  try {
    const stored = JSON.parse(window.sessionStorage.getItem(DIRECTORY_KEY) ?? 'null');
    return stored && typeof stored.id === 'string' && typeof stored.slug === 'string'
      ? { id: stored.id, slug: stored.slug }
      : null;
  } catch {
    return null;
  }
}

/** The chosen directory, { id, slug }, or null for the default directory. */
export function currentDirectory() {
  return directory;
}

/** Works in this directory ({ id, slug }) from now on; null: the default directory. */
export function chooseDirectory(choice) {
  directory = choice && choice.id !== 'default' ? { id: choice.id, slug: choice.slug } : null;
  try {
    if (directory) window.sessionStorage.setItem(DIRECTORY_KEY, JSON.stringify(directory));
    else window.sessionStorage.removeItem(DIRECTORY_KEY);
  } catch {
    // storage refused (private mode): the choice lasts until the page is reloaded
  }
}

/**
 * The URL of an admin API path: in the chosen directory's admin API, except the operators' own
 * routes (/directories…), which name their directory themselves.
 */
function adminUrl(path) {
  const operators = path === '/directories' || /^\/directories[/?]/.test(path);
  if (!directory || operators) return `/admin/v1${path}`;
  return `/admin/v1/directories/${encodeURIComponent(directory.id)}${path}`;
}

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

/** A JSON call; `path` under the admin API (of the chosen directory) unless it starts with /console. */
export async function api(method, path, body) {
  const url = path.startsWith('/console/') ? path : adminUrl(path);
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
    xhr.open('POST', `${adminUrl('/imports')}?${query}`);
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
