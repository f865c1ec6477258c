// What every connector shares: the guarded TCP dial, the deadline that bounds a connection
// attempt and closes its sockets, and the classification of network-level failures.
//
// Sockets are Node's `net.Socket` (workerd's nodejs_compat implementation over Workers TCP):
// unlike `cloudflare:sockets`, it reports a refused port (ECONNREFUSED) apart from a name
// that does not resolve (ENOTFOUND), and node:tls can upgrade it in place (STARTTLS).
import net from "node:net";
import tls from "node:tls";
import { checkHost } from "../lib/host-guard";
import { ConnectionFailure, type ConnectOptions, type FailureDetail } from "./types";

interface Destroyable {
  destroy(): void;
}

export interface DeadlineScope {
  /** Aborted when the deadline passes or the caller's signal aborts. */
  signal: AbortSignal;
  /** Registers a resource to destroy if the attempt fails or times out. */
  track<T extends Destroyable>(resource: T): T;
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

export const timeoutFailure = (timeoutMs: number) =>
  new ConnectionFailure("timeout", `The server did not complete the connection within ${seconds(timeoutMs)}`, [
    { field: "host", message: "Check the host and port, and that a firewall is not silently dropping the connection" },
  ]);

/**
 * Runs `work` bounded by `timeoutMs` (and the caller's signal). On failure or timeout every
 * tracked resource is destroyed; on timeout the answer is a `timeout` failure right away, and
 * if `work` still succeeds later its result goes to `disposeLate` so nothing stays open.
 */
export async function withDeadline<T>(
  options: Pick<ConnectOptions, "timeoutMs" | "signal">,
  work: (scope: DeadlineScope) => Promise<T>,
  disposeLate: (value: T) => void,
): Promise<T> {
  const controller = new AbortController();
  const resources = new Set<Destroyable>();
  const destroyAll = () => {
    for (const resource of resources) {
      try {
        resource.destroy();
      } catch {
        // already gone
      }
    }
    resources.clear();
  };
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  const outer = options.signal;
  const onOuterAbort = () => controller.abort();
  if (outer?.aborted) controller.abort();
  else outer?.addEventListener("abort", onOuterAbort, { once: true });
  const expired = new Promise<never>((_, reject) => {
    const fail = () => reject(timeoutFailure(options.timeoutMs));
    if (controller.signal.aborted) fail();
    else controller.signal.addEventListener("abort", fail, { once: true });
  });
  expired.catch(() => {});
  controller.signal.addEventListener("abort", destroyAll, { once: true });

  const scope: DeadlineScope = {
    signal: controller.signal,
    track(resource) {
      if (controller.signal.aborted) resource.destroy();
      else resources.add(resource);
      return resource;
    },
  };
  const running = Promise.resolve().then(() => work(scope));
  try {
    const value = await Promise.race([running, expired]);
    resources.clear(); // the caller owns them now
    return value;
  } catch (err) {
    destroyAll();
    if (controller.signal.aborted) {
      running.then(disposeLate, () => {});
      throw timeoutFailure(options.timeoutMs);
    }
    throw err;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onOuterAbort);
  }
}

/**
 * Opens a TCP connection after the SSRF guard accepts the host. Connects to the guard's
 * canonical spelling of the host, so what was checked is what is dialled.
 */
export function dial(host: string, port: number, options: Pick<ConnectOptions, "allowPrivate">, scope: DeadlineScope): Promise<net.Socket> {
  const guard = checkHost(host, { allowPrivate: options.allowPrivate });
  if (!guard.ok) {
    return Promise.reject(
      new ConnectionFailure("host_not_allowed", "Connections to this host are not allowed", [
        { field: "host", message: capitalize(guard.reason) },
      ]),
    );
  }
  const target = guard.host.replace(/^\[(.*)\]$/, "$1");
  return new Promise((resolve, reject) => {
    const socket = scope.track(net.connect({ host: target, port }));
    // Errors also reach the drivers' own listeners; this one only keeps an error that arrives
    // between hand-offs from becoming an uncaught exception.
    socket.on("error", () => {});
    const onError = (err: Error) => reject(err);
    socket.once("error", onError);
    socket.once("connect", () => {
      socket.off("error", onError);
      resolve(socket);
    });
  });
}

/** Upgrades a connected socket to TLS in place and waits for the handshake. */
export function upgradeToTls(socket: net.Socket, scope: DeadlineScope): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    // No servername: workerd verifies the certificate against the host it dialled.
    const secure = scope.track(tls.connect({ socket }));
    secure.on("error", () => {});
    const onError = (err: Error) => reject(sslHandshakeFailure(err));
    secure.once("error", onError);
    secure.once("secureConnect", () => {
      secure.off("error", onError);
      resolve(secure);
    });
  });
}

export const sslHandshakeFailure = (cause: unknown) =>
  new ConnectionFailure(
    "ssl_failed",
    "The SSL handshake with the server failed",
    [{ field: "ssl", message: "The server's certificate must be valid for this host and signed by a trusted authority" }],
    { cause },
  );

export const sslUnsupportedFailure = () =>
  new ConnectionFailure("ssl_failed", "The server does not accept SSL connections", [
    { field: "ssl", message: "Enable SSL on the server, or set ssl to prefer or disable" },
  ]);

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

const detail = (field: string, message: string): FailureDetail[] => [{ field, message }];

/**
 * Failures below the database protocol, from Node-style error codes. Runtimes that only say
 * "cannot connect" (wrangler 4.86's bundled workerd does, for a refused port and an
 * unresolvable name alike) still answer `connection_refused`, naming the host too when it is a
 * name that may not resolve.
 */
export function classifyNetworkError(err: unknown, host?: string): ConnectionFailure | null {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : "";
  if (["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_FAIL", "EAI_NODATA"].includes(code) || /could not be resolved|dns lookup failed/i.test(message)) {
    return new ConnectionFailure(
      "host_not_found",
      "The host name could not be resolved",
      detail("host", "No DNS record was found for this host name"),
      { cause: err },
    );
  }
  if (code === "ECONNREFUSED") {
    return new ConnectionFailure("connection_refused", "Nothing accepted the connection at this host and port", [PORT_HINT], { cause: err });
  }
  if (/cannot connect to the specified address|connection refused/i.test(message)) {
    const maybeName = host !== undefined && !isIpLiteral(host);
    return new ConnectionFailure(
      "connection_refused",
      "Could not connect to this host and port",
      maybeName ? [{ field: "host", message: "Check that this host name resolves" }, PORT_HINT] : [PORT_HINT],
      { cause: err },
    );
  }
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH") {
    return new ConnectionFailure(
      "connection_refused",
      "The host could not be reached",
      detail("host", "No network route to this host"),
      { cause: err },
    );
  }
  if (code === "ETIMEDOUT") {
    return new ConnectionFailure("timeout", "The server did not answer in time", detail("host", "Check the host, port and firewall"), {
      cause: err,
    });
  }
  return null;
}

const PORT_HINT: FailureDetail = {
  field: "port",
  message: "Check the port, that the database server is running, and that its firewall admits connections",
};

const isIpLiteral = (host: string) => net.isIP(host.replace(/^\[(.*)\]$/, "$1")) !== 0;

export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}

export const unknownFailure = (cause: unknown, product: string) =>
  new ConnectionFailure("unknown", `The connection to the ${product} server failed for an unexpected reason`, [], { cause });
