package store

import (
	"slices"
	"testing"
)

// FuzzSplitSQL: any input either fails to lex or splits into statements that
// each split again into exactly themselves (so no semicolon is lost or
// invented inside a quote, comment or body), and the check never panics.
func FuzzSplitSQL(f *testing.F) {
	for _, s := range []string{
		"CREATE TABLE a (x int); COMMIT;",
		"CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;",
		"CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN x > 0 THEN 1 END; END;",
		"SELECT E'\\';', 'a''b', \"c;\"; /* /* ; */ */ -- ;\nSELECT $1, $t$;$t$",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		_ = checkMigrationSQL(src)
		stmts, err := splitSQL(src)
		if err != nil {
			return
		}
		for _, s := range stmts {
			again, err := splitSQL(s.Text)
			if err != nil || len(again) != 1 || again[0].Text != s.Text || !slices.Equal(again[0].Words, s.Words) {
				t.Fatalf("statement %q split again into %+v (%v)", s.Text, again, err)
			}
		}
	})
}
