// The request a piece of code is running for, without threading it through every call: log()
// reads the request id from here, so every line a request causes carries it.
import { AsyncLocalStorage } from "node:async_hooks";

export interface RequestContext {
  requestId: string;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

/** A client's X-Request-Id is kept when it is a plain token; anything else gets a fresh id. */
export const SANE_REQUEST_ID = /^[A-Za-z0-9._:\-]{1,128}$/;

export function chooseRequestId(fromClient: string | undefined, cfRay: string | undefined): string {
  if (fromClient !== undefined && SANE_REQUEST_ID.test(fromClient)) return fromClient;
  if (cfRay !== undefined && SANE_REQUEST_ID.test(cfRay)) return cfRay;
  return crypto.randomUUID();
}
