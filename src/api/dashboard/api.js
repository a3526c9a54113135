// The only way the page talks to the server: the HTTP API with the chosen test user's token.
// A user switch bumps the generation, so answers for the previous user can be told apart.

let token = "";
let generation = 0;

/** The status of an answer that arrived after a user switch; callers drop it silently. */
export const STALE = -1;

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** Switches the user every later request is made as. */
export function setToken(t) {
  token = t;
  generation += 1;
}

function withQuery(path, query) {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === "") continue;
    for (const one of Array.isArray(v) ? v : [v]) qs.append(k, String(one));
  }
  const s = qs.toString();
  if (!s) return path;
  return `${path}${path.includes("?") ? "&" : "?"}${s}`;
}

/**
 * One API call. Resolves to the parsed JSON (or text, or null for an empty body); rejects with
 * an `ApiError` carrying the server's `{"error"}` message for a non-2xx answer.
 */
export async function api(method, path, { query, headers, body } = {}) {
  const gen = generation;
  let res;
  try {
    res = await fetch(withQuery(path, query), {
      method,
      headers: { Authorization: `Bearer ${token}`, ...headers },
      body,
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiError(`server unreachable (${e.message})`, 0);
  }
  const text = await res.text();
  if (gen !== generation) throw new ApiError("superseded by a user switch", STALE);
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) {
    const msg = (data && data.error) || `${res.status} ${res.statusText}`;
    throw new ApiError(`${method} ${path.split("?")[0]}: ${msg}`, res.status);
  }
  return data;
}

export const get = (path, query) => api("GET", path, { query });
export const post = (path, opts) => api("POST", path, opts);
export const del = (path, opts) => api("DELETE", path, opts);

/**
 * Every item of a paged listing (`{cursor, <field>: [...]}`), page after page until there is
 * no cursor, `limit` items are held, or `wanted()` turns false (a newer refresh took over).
 * Resolves to `{items, more}`, `more` when items were left behind.
 */
export async function getPages(path, field, { query = {}, limit, wanted = () => true }) {
  const items = [];
  let cursor;
  do {
    const r = await get(path, { ...query, cursor });
    items.push(...(r[field] || []));
    cursor = r.cursor;
  } while (cursor && items.length < limit && wanted());
  return { items, more: Boolean(cursor) };
}

/** A path segment from user data (ids, names). */
export const seg = (s) => encodeURIComponent(s);
