import { errorFields, log } from "../lib/log";
import { errorCode, unknownFailure, withDeadline } from "./net";
import { ConnectionFailure, type Connector, type ConnectionSettings, type TestOptions, type TestResult } from "./types";

const PRODUCT = { postgresql: "PostgreSQL", mysql: "MySQL" } as const;

/**
 * The connection test every connector shares: connect, read the server version, close, all
 * under one deadline. Classified failures become the response; anything unclassified is
 * logged with the request id and answered with a generic `unknown`.
 */
export async function runConnectionTest(
  connector: Pick<Connector, "type" | "connect">,
  connection: ConnectionSettings,
  options: TestOptions,
): Promise<TestResult> {
  const started = Date.now();
  try {
    const serverVersion = await withDeadline(
      options,
      async (scope) => {
        const session = await connector.connect(connection, { ...options, signal: scope.signal });
        scope.track({ destroy: () => void session.close() });
        try {
          return await session.serverVersion();
        } finally {
          await session.close();
        }
      },
      () => {},
    );
    return { success: true, message: "Connection successful", latencyMs: Date.now() - started, serverVersion };
  } catch (err) {
    const failure = err instanceof ConnectionFailure ? err : unknownFailure(err, PRODUCT[connector.type]);
    if (failure.code === "unknown") {
      const cause = failure.cause ?? err;
      log("warn", "data source connection test failed for an unclassified reason", {
        requestId: options.requestId,
        type: connector.type,
        driverCode: errorCode(cause) || undefined,
        ...errorFields(cause),
      });
    }
    return failure.toResult();
  }
}
