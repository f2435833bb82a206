package store

import (
	"slices"
	"strings"
	"testing"

	"github.com/cryptoassets/cryptoassets/migrations"
)

// TestMigrationTransactionControlRefused is the table of what the migration
// check refuses and what it lets through: transaction control is found as a
// statement, never inside strings, quoted identifiers, comments, dollar-quoted
// function bodies or SQL-standard function bodies.
func TestMigrationTransactionControlRefused(t *testing.T) {
	for _, tt := range []struct {
		name, sql string
		refused   string // "" when the file is accepted; else a part of the error
	}{
		{"plain DDL", "CREATE TABLE a (x int);\nCREATE INDEX ON a (x);", ""},
		{"COMMIT", "CREATE TABLE a (x int);\nCOMMIT;\nCREATE TABLE b (x int);", "line 2: COMMIT"},
		{"lower-case commit without semicolon", "create table a (x int);\n\n  commit", "line 3: COMMIT"},
		{"BEGIN", "BEGIN;\nCREATE TABLE a (x int);", "line 1: BEGIN"},
		{"BEGIN TRANSACTION ISOLATION", "BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE;", "BEGIN"},
		{"START TRANSACTION", "START TRANSACTION;", "START TRANSACTION"},
		{"END", "SELECT 1;END;", "END"},
		{"ROLLBACK", "SELECT 1; ROLLBACK;", "ROLLBACK"},
		{"ROLLBACK TO SAVEPOINT", "SAVEPOINT s; SELECT 1; ROLLBACK TO SAVEPOINT s;", "SAVEPOINT"},
		{"RELEASE", "RELEASE SAVEPOINT s;", "RELEASE"},
		{"ABORT", "ABORT;", "ABORT"},
		{"PREPARE TRANSACTION", "PREPARE TRANSACTION 'x';", "PREPARE TRANSACTION"},
		{"COMMIT PREPARED", "COMMIT PREPARED 'x';", "COMMIT"},
		{"after a block comment", "/* setup */ COMMIT;", "COMMIT"},
		{"after a line comment on the same statement", "-- why\nCOMMIT;", "line 2: COMMIT"},
		{"after a string that hides a semicolon", "SELECT ';';\nCOMMIT;", "line 2: COMMIT"},
		{"after an E-string with an escaped quote", "SELECT E'it\\'s;';\nCOMMIT;", "line 2: COMMIT"},
		{"after a dollar-quoted body", "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;\nCOMMIT;", "line 2: COMMIT"},

		{"PREPARE of a statement", "PREPARE q AS SELECT 1;", ""},
		{"in a line comment", "-- COMMIT;\nCREATE TABLE a (x int);", ""},
		{"in a block comment", "/* do not\nCOMMIT; here */ CREATE TABLE a (x int);", ""},
		{"in nested block comments", "/* outer /* inner */ COMMIT; still outer */ SELECT 1;", ""},
		{"in a string", "INSERT INTO t VALUES ('; COMMIT; --');", ""},
		{"in a string with doubled quotes", "INSERT INTO t VALUES ('it''s; COMMIT;');", ""},
		{"in an E-string", "INSERT INTO t VALUES (E'\\'; COMMIT; ');", ""},
		{"backslash in a standard string", "INSERT INTO t VALUES ('\\'); SELECT 1;", ""},
		{"in a quoted identifier", `CREATE TABLE "x; COMMIT" (y int);`, ""},
		{"as a column name", `CREATE TABLE t ("commit" int, "end" int);`, ""},
		{"in a plpgsql body", "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  IF NEW.x < 0 THEN RAISE 'no'; END IF;\n  RETURN NEW;\nEND\n$$;", ""},
		{"in a tagged dollar body holding $$", "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $body$ SELECT '$$; COMMIT;' $body$;", ""},
		{"in a DO block", "DO $do$ BEGIN PERFORM 1; END $do$;", ""},
		{"in a SQL-standard body", "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\nEND;\nSELECT 1;", ""},
		{"in a procedure body", "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END;", ""},
		{"parameter, not a dollar quote", "PREPARE q(int) AS SELECT $1; SELECT 1;", ""},
		{"dollar inside an identifier", "CREATE TABLE a$b$ (x int); SELECT 1;", ""},

		{"unterminated string", "SELECT 'abc;\nCOMMIT;", "string constant never closed"},
		{"unterminated dollar quote", "DO $$ BEGIN COMMIT; END;", "dollar-quoted string $$ never closed"},
		{"unterminated comment", "/* COMMIT;", "block comment never closed"},
		{"unterminated identifier", `SELECT "a; COMMIT;`, "quoted identifier never closed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := checkMigrationSQL(tt.sql)
			switch {
			case tt.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.refused != "" && err == nil:
				t.Fatalf("accepted; want an error containing %q", tt.refused)
			case tt.refused != "" && !strings.Contains(err.Error(), tt.refused):
				t.Fatalf("error %q, want it to contain %q", err, tt.refused)
			}
		})
	}
}

// Every file this binary ships passes the check.
func TestShippedMigrationsPassTheCheck(t *testing.T) {
	for _, dir := range []string{"global", "asset"} {
		ms, err := loadMigrations(migrations.FS, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			stmts, err := splitSQL(m.SQL)
			if err != nil || len(stmts) == 0 {
				t.Errorf("%s/%04d_%s: %d statements, %v", dir, m.Version, m.Name, len(stmts), err)
			}
		}
	}
}

func TestSplitSQLLines(t *testing.T) {
	stmts, err := splitSQL("SELECT 'a\nb';\n/* x\ny */\nSELECT $$\n$$;\n-- c\nSELECT \"q\nr\"; SELECT 4")
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, s := range stmts {
		lines = append(lines, s.Line)
	}
	if want := []int{1, 5, 8, 9}; !slices.Equal(lines, want) {
		t.Fatalf("statement lines %v, want %v", lines, want)
	}
}
