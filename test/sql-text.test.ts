import { describe, expect, it } from "vitest";
import { SqlTextError, analyzeSql, bindNamedParams, type SqlDialect } from "../src/lib/sql-text";

const count = (sql: string, dialect: SqlDialect = "postgresql") => analyzeSql(sql, dialect).statementCount;
const bind = (sql: string, params: Record<string, unknown>, dialect: SqlDialect) => bindNamedParams(analyzeSql(sql, dialect), params, dialect);

describe("analyzeSql: statements", () => {
  it("counts statements, ignoring trailing semicolons, empty statements and comments", () => {
    expect(count("SELECT 1")).toBe(1);
    expect(count("SELECT 1;")).toBe(1);
    expect(count("SELECT 1 ;  ;\n-- done\n")).toBe(1);
    expect(count("SELECT 1; SELECT 2")).toBe(2);
    expect(count("SELECT 1;DROP TABLE t")).toBe(2);
    expect(count("")).toBe(0);
    expect(count("-- nothing\n/* at all */")).toBe(0);
  });

  it("does not split on a semicolon inside literals, identifiers or comments", () => {
    expect(count("SELECT 'a;b', \"c;d\" FROM t -- x;y\n")).toBe(1);
    expect(count("SELECT 1 /* ; */ + 2")).toBe(1);
    expect(count("SELECT 'it''s; fine'")).toBe(1);
    expect(count("SELECT $$ ; $$, $tag$ ; $$ ; $tag$")).toBe(1);
    expect(count("SELECT E'\\'; DROP TABLE t; --'")).toBe(1);
    expect(count("SELECT 1 /* outer /* nested ; */ still comment ; */")).toBe(1);
    expect(count("SELECT `a;b` FROM t", "mysql")).toBe(1);
    expect(count("SELECT 'a\\';' FROM t # c;\n", "mysql")).toBe(1);
    expect(count("SELECT [a;b] FROM t", "sqlite")).toBe(1);
  });

  it("sees through quoting tricks that would hide a second statement", () => {
    // Standard PostgreSQL strings have no backslash escapes: the quote closes the literal.
    expect(count("SELECT 'x\\'; DROP TABLE t; --'", "postgresql")).toBe(2);
    // MySQL `--` needs a space after it to be a comment.
    expect(count("SELECT 1 --1; DROP TABLE t", "mysql")).toBe(2);
    expect(count("SELECT 1 -- ; DROP TABLE t", "mysql")).toBe(1);
    // SQLite and MySQL block comments do not nest.
    expect(count("SELECT 1 /* /* */ ; DROP TABLE t", "sqlite")).toBe(2);
  });

  it("refuses unterminated literals and MySQL executable comments", () => {
    expect(() => analyzeSql("SELECT 'open", "postgresql")).toThrow(SqlTextError);
    expect(() => analyzeSql("SELECT $x$ open", "postgresql")).toThrow(/dollar-quoted/);
    expect(() => analyzeSql("SELECT 1 /* open", "sqlite")).toThrow(/comment/);
    expect(() => analyzeSql("SELECT /*!50000 1; DROP TABLE t */", "mysql")).toThrow(/Executable comments/);
    expect(() => analyzeSql("SELECT /*M! 1 */", "mysql")).toThrow(/Executable comments/);
  });

  it("reports the first keyword and the words outside literals", () => {
    const a = analyzeSql("  -- c\n(SELECT 'delete' AS \"update\" FROM t) UNION SELECT 2", "sqlite");
    expect(a.firstKeyword).toBe("SELECT");
    expect(a.words.has("DELETE")).toBe(false);
    expect(a.words.has("UPDATE")).toBe(false);
    expect(a.words.has("UNION")).toBe(true);
    expect(analyzeSql("with x as (select 1) delete from t", "sqlite").words.has("DELETE")).toBe(true);
    expect(analyzeSql("SELECT updated_at FROM t", "sqlite").words.has("UPDATE")).toBe(false);
  });

  it("keeps the text up to the last statement, without trailing semicolons", () => {
    expect(analyzeSql("SELECT 1 ;  -- end\n", "sqlite").text).toBe("SELECT 1");
    expect(analyzeSql("SELECT 'a;' -- c", "sqlite").text).toBe("SELECT 'a;'");
  });
});

describe("bindNamedParams", () => {
  it("turns :name into the dialect's positional placeholders, values in order", () => {
    const sql = "SELECT * FROM t WHERE a = :a AND b = :b OR a2 = :a";
    expect(bind(sql, { a: 1, b: "x" }, "postgresql")).toEqual({ text: "SELECT * FROM t WHERE a = $1 AND b = $2 OR a2 = $1", values: [1, "x"] });
    expect(bind(sql, { a: 1, b: "x" }, "sqlite")).toEqual({ text: "SELECT * FROM t WHERE a = ?1 AND b = ?2 OR a2 = ?1", values: [1, "x"] });
    expect(bind(sql, { a: 1, b: "x" }, "mysql")).toEqual({ text: "SELECT * FROM t WHERE a = ? AND b = ? OR a2 = ?", values: [1, "x", 1] });
  });

  it("leaves casts, assignments, slices and :x inside literals and comments alone", () => {
    expect(bind("SELECT :v::int, ':no', \"a:b\", arr[1:n], x[lo:hi] /* :no */ FROM t", { v: 5 }, "postgresql")).toEqual({
      text: "SELECT $1::int, ':no', \"a:b\", arr[1:n], x[lo:hi] /* :no */ FROM t",
      values: [5],
    });
    expect(bind("SELECT @a := :v", { v: 1 }, "mysql").text).toBe("SELECT @a := ?");
    expect(bind("SELECT $$ :no $$, :yes", { yes: true }, "postgresql")).toEqual({ text: "SELECT $$ :no $$, $1", values: [true] });
  });

  it("never splices a value into the text", () => {
    const evil = "x'); DROP TABLE orders; --";
    const bound = bind("SELECT * FROM orders WHERE status = :status", { status: evil }, "sqlite");
    expect(bound.text).toBe("SELECT * FROM orders WHERE status = ?1");
    expect(bound.text).not.toContain("DROP");
    expect(bound.values).toEqual([evil]);
  });

  it("refuses a missing value, a value of the wrong kind, and raw positional placeholders", () => {
    expect(() => bind("SELECT :a", {}, "postgresql")).toThrow(/No value in config.params for placeholder :a/);
    expect(() => bind("SELECT :a", { a: { nested: 1 } }, "postgresql")).toThrow(/config.params.a must be/);
    expect(() => bind("SELECT :a", { a: Number.NaN }, "postgresql")).toThrow(/finite number/);
    expect(() => bind("SELECT $1", {}, "postgresql")).toThrow(/Positional placeholder \$1/);
    expect(() => bind("SELECT ?", {}, "mysql")).toThrow(/Positional placeholder \?/);
    expect(() => bind("SELECT ?1", {}, "sqlite")).toThrow(/Positional placeholder/);
    // In PostgreSQL `?` is an operator (jsonb), not a placeholder.
    expect(bind("SELECT '{\"a\":1}'::jsonb ? 'a'", {}, "postgresql").values).toEqual([]);
    // Unused params are fine.
    expect(bind("SELECT 1", { unused: 1 }, "sqlite").values).toEqual([]);
  });
});
