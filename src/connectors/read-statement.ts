// The statement checks every external database shares before a widget query is sent: one
// statement only, a reading first word, `:name` placeholders bound in the dialect's style.
// The server's READ ONLY transaction is the real guard against writes; this refuses the obvious
// ones early with a clear message, and stops what a read-only transaction would not (COMMIT, SET).
import { QueryFailure } from "../lib/query-result";
import { analyzeSql, bindNamedParams, SqlTextError, type BoundQuery, type SqlAnalysis } from "../lib/sql-text";

/** First words a read query can start with; anything else is refused before it is sent. */
export const READ_STATEMENTS = {
  postgresql: new Set(["SELECT", "WITH", "VALUES", "TABLE", "SHOW", "EXPLAIN"]),
  mysql: new Set(["SELECT", "WITH", "VALUES", "TABLE", "SHOW", "EXPLAIN", "DESCRIBE", "DESC"]),
} as const;

/** The scanner's refusals as per-widget failures. */
export function sqlTextFailure(err: SqlTextError): QueryFailure {
  if (err.code === "forbidden_statement") return new QueryFailure("forbidden_statement", err.message);
  if (err.code === "invalid_params") return new QueryFailure("invalid_config", err.message);
  return new QueryFailure("query_error", err.message);
}

export function checkReadStatement(
  query: string,
  dialect: "postgresql" | "mysql",
  params: Record<string, unknown>,
): { analysis: SqlAnalysis; bound: BoundQuery } {
  try {
    const analysis = analyzeSql(query, dialect);
    if (analysis.statementCount === 0) throw new QueryFailure("invalid_config", "config.query is empty");
    if (analysis.statementCount > 1) throw new QueryFailure("forbidden_statement", "Only a single statement is allowed");
    if (!READ_STATEMENTS[dialect].has(analysis.firstKeyword)) {
      throw new QueryFailure(
        "forbidden_statement",
        `Only read statements (${[...READ_STATEMENTS[dialect]].join(", ")}) are allowed, not ${analysis.firstKeyword || "this statement"}`,
      );
    }
    return { analysis, bound: bindNamedParams(analysis, params, dialect) };
  } catch (err) {
    throw err instanceof SqlTextError ? sqlTextFailure(err) : err;
  }
}
