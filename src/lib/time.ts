/** The API's timestamp form: ISO 8601 UTC with milliseconds. */
export const nowIso = (now = Date.now()) => new Date(now).toISOString();
