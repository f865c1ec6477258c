// A lexical scanner for user SQL: enough of each dialect's quoting and comment rules to find
// what sits *outside* string literals, quoted identifiers and comments — statement separators,
// `:name` placeholders, raw positional placeholders and keywords. It does not parse SQL; the
// database still does that. What it decides (one statement only, placeholders bound as
// parameters) must never be fooled by a `;` or `:x` inside a literal, hence the care below.

export type SqlDialect = "postgresql" | "mysql" | "sqlite";

/** Why a query text was refused before reaching a database. */
export class SqlTextError extends Error {
  override name = "SqlTextError";
  constructor(
    readonly code: "forbidden_statement" | "invalid_query" | "invalid_params",
    message: string,
  ) {
    super(message);
  }
}

export interface Placeholder {
  name: string;
  start: number;
  end: number;
}

export interface SqlAnalysis {
  /** The text up to the end of the last statement: trailing `;`, spaces and comments removed. */
  text: string;
  /** Statements that contain code (a lone `;` or a comment is not a statement). */
  statementCount: number;
  /** The first word of the first statement, upper-cased ("" if none); `(SELECT …` gives SELECT. */
  firstKeyword: string;
  /** Every bare word outside literals, identifiers and comments, upper-cased. */
  words: Set<string>;
  placeholders: Placeholder[];
  /** A raw positional placeholder (`$1`, `?`) in code: refused, `:name` is the one syntax. */
  positional: string | null;
}

const isIdentStart = (ch: string) => /[A-Za-z_\u0080-\uffff]/.test(ch);
const isIdentChar = (ch: string) => /[A-Za-z0-9_$\u0080-\uffff]/.test(ch);

/** Index just past a quoted run that started at `i` with `quote`; doubling the quote escapes it. */
function skipQuoted(sql: string, i: number, quote: string, backslashEscapes: boolean): number {
  for (let j = i + 1; j < sql.length; j++) {
    const ch = sql[j]!;
    if (backslashEscapes && ch === "\\") {
      j++;
      continue;
    }
    if (ch === quote) {
      if (sql[j + 1] === quote) {
        j++;
        continue;
      }
      return j + 1;
    }
  }
  throw new SqlTextError("invalid_query", `Unterminated ${quote === "'" ? "string literal" : "quoted identifier"}`);
}

function skipBlockComment(sql: string, i: number, nested: boolean): number {
  let depth = 1;
  for (let j = i + 2; j < sql.length; j++) {
    if (nested && sql[j] === "/" && sql[j + 1] === "*") {
      depth++;
      j++;
    } else if (sql[j] === "*" && sql[j + 1] === "/") {
      depth--;
      j++;
      if (depth === 0) return j + 1;
    }
  }
  throw new SqlTextError("invalid_query", "Unterminated /* comment");
}

/** `$tag$` opening a PostgreSQL dollar-quoted string at `i`, or null. */
function dollarTag(sql: string, i: number): string | null {
  const match = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 200));
  return match ? match[0] : null;
}

/**
 * Walks `sql` once, classifying what is code. Literal, identifier and comment runs are skipped
 * whole, so nothing inside them counts as a separator, placeholder or keyword.
 */
export function analyzeSql(sql: string, dialect: SqlDialect): SqlAnalysis {
  const words = new Set<string>();
  const placeholders: Placeholder[] = [];
  let positional: string | null = null;
  let statementCount = 0;
  let firstKeyword = "";
  let statementHasCode = false;
  let lastCodeEnd = 0;

  const code = (end: number) => {
    statementHasCode = true;
    lastCodeEnd = end;
  };

  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    const next = sql[i + 1] ?? "";
    const prev = i > 0 ? sql[i - 1]! : "";

    // Whitespace.
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    // Comments.
    if (ch === "-" && next === "-" && (dialect !== "mysql" || /[\s]/.test(sql[i + 2] ?? " "))) {
      const nl = sql.indexOf("\n", i);
      i = nl === -1 ? sql.length : nl + 1;
      continue;
    }
    if (ch === "#" && dialect === "mysql") {
      const nl = sql.indexOf("\n", i);
      i = nl === -1 ? sql.length : nl + 1;
      continue;
    }
    if (ch === "/" && next === "*") {
      // MySQL/MariaDB run the inside of /*! ... */ and /*M! ... */ as SQL: no hiding code there.
      if (dialect === "mysql" && (sql[i + 2] === "!" || (sql[i + 2] === "M" && sql[i + 3] === "!"))) {
        throw new SqlTextError("forbidden_statement", "Executable comments (/*! ... */) are not allowed");
      }
      i = skipBlockComment(sql, i, dialect === "postgresql");
      continue;
    }
    // String literals.
    if (ch === "'") {
      // PostgreSQL E'...' strings take backslash escapes; MySQL's strings always do.
      const eString = dialect === "postgresql" && /[eE]/.test(prev) && !isIdentChar(sql[i - 2] ?? " ");
      i = skipQuoted(sql, i, "'", dialect === "mysql" || eString);
      code(i);
      continue;
    }
    if (ch === '"') {
      i = skipQuoted(sql, i, '"', dialect === "mysql");
      code(i);
      continue;
    }
    if (ch === "`" && dialect !== "postgresql") {
      i = skipQuoted(sql, i, "`", false);
      code(i);
      continue;
    }
    if (ch === "[" && dialect === "sqlite") {
      const close = sql.indexOf("]", i);
      if (close === -1) throw new SqlTextError("invalid_query", "Unterminated [identifier]");
      i = close + 1;
      code(i);
      continue;
    }
    if (ch === "$" && dialect === "postgresql" && !isIdentChar(prev)) {
      const tag = dollarTag(sql, i);
      if (tag) {
        const close = sql.indexOf(tag, i + tag.length);
        if (close === -1) throw new SqlTextError("invalid_query", `Unterminated dollar-quoted string ${tag}`);
        i = close + tag.length;
        code(i);
        continue;
      }
      if (/[0-9]/.test(next)) {
        positional ??= /^\$[0-9]+/.exec(sql.slice(i))![0];
      }
    }
    // Statement separator.
    if (ch === ";") {
      if (statementHasCode) statementCount++;
      statementHasCode = false;
      i++;
      continue;
    }
    // Named placeholder `:name` — not `::type`, not `:=`, not after an identifier (`a[1:n]`).
    if (ch === ":" && isIdentStart(next) && prev !== ":" && !isIdentChar(prev) && prev !== "]" && prev !== ")") {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_]/.test(sql[j]!)) j++;
      placeholders.push({ name: sql.slice(i + 1, j), start: i, end: j });
      i = j;
      code(i);
      continue;
    }
    if (ch === "?" && dialect !== "postgresql") {
      positional ??= "?";
    }
    // A word (keyword or identifier).
    if (isIdentStart(ch) && !isIdentChar(prev)) {
      let j = i + 1;
      while (j < sql.length && isIdentChar(sql[j]!)) j++;
      const word = sql.slice(i, j).toUpperCase();
      words.add(word);
      if (!firstKeyword && statementCount === 0) firstKeyword = word;
      i = j;
      code(i);
      continue;
    }
    // Anything else is code: operators, numbers, parentheses.
    i++;
    code(i);
  }
  if (statementHasCode) statementCount++;

  return { text: sql.slice(0, lastCodeEnd), statementCount, firstKeyword, words, placeholders, positional };
}

/** A parameter value a widget's `params` may hold. */
export type ParamValue = string | number | boolean | null;

export interface BoundQuery {
  text: string;
  values: ParamValue[];
}

/**
 * Replaces each `:name` with the dialect's positional placeholder and collects the values in
 * order: PostgreSQL `$n` (a name used twice reuses its number), SQLite `?n`, MySQL `?` (one
 * value per occurrence). Values travel as bind parameters; nothing is spliced into the text.
 */
export function bindNamedParams(analysis: SqlAnalysis, params: Record<string, unknown>, dialect: SqlDialect): BoundQuery {
  if (analysis.positional) {
    throw new SqlTextError(
      "invalid_query",
      `Positional placeholder ${analysis.positional} is not supported; use :name placeholders with config.params`,
    );
  }
  const values: ParamValue[] = [];
  const numberOf = new Map<string, number>();
  let text = "";
  let cursor = 0;
  for (const p of analysis.placeholders) {
    if (!Object.hasOwn(params, p.name)) {
      throw new SqlTextError("invalid_params", `No value in config.params for placeholder :${p.name}`);
    }
    const value = checkParamValue(p.name, params[p.name]);
    let placeholder: string;
    if (dialect === "mysql") {
      values.push(value);
      placeholder = "?";
    } else {
      let n = numberOf.get(p.name);
      if (n === undefined) {
        values.push(value);
        n = values.length;
        numberOf.set(p.name, n);
      }
      placeholder = dialect === "postgresql" ? `$${n}` : `?${n}`;
    }
    text += analysis.text.slice(cursor, p.start) + placeholder;
    cursor = p.end;
  }
  text += analysis.text.slice(cursor);
  return { text, values };
}

function checkParamValue(name: string, value: unknown): ParamValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  throw new SqlTextError("invalid_params", `config.params.${name} must be a string, a finite number, a boolean or null`);
}
