package store

import (
	"fmt"
	"strings"
)

// sqlStatement is one statement of a migration file.
type sqlStatement struct {
	Text  string   // from its first token to its terminating ';' (or the end of the file)
	Line  int      // line of its first token, from 1
	Words []string // its first keywords, upper-cased (at most four)
}

// leadingWords is how many leading keywords splitSQL keeps per statement.
const leadingWords = 4

// splitSQL splits PostgreSQL source into statements the way the server's
// lexer sees them: semicolons inside string constants ('…', E'…'), quoted
// identifiers ("…"), dollar-quoted bodies ($tag$…$tag$), line comments and
// nested block comments do not end a statement, nor those inside a
// SQL-standard function body (CREATE FUNCTION … BEGIN ATOMIC … END). A
// constant, identifier or comment left open is an error: a file the
// migrator cannot read exactly is not run.
func splitSQL(src string) ([]sqlStatement, error) {
	var (
		out   []sqlStatement
		cur   *sqlStatement
		start int
		line  = 1
		depth int // BEGIN/CASE … END nesting inside CREATE FUNCTION/PROCEDURE
		words int // words seen in the current statement, kept or not
	)
	routine := func() bool {
		if cur == nil || len(cur.Words) == 0 || cur.Words[0] != "CREATE" {
			return false
		}
		for _, w := range cur.Words[1:] {
			if w == "FUNCTION" || w == "PROCEDURE" {
				return true
			}
		}
		return false
	}
	begin := func(i int) {
		if cur == nil {
			cur = &sqlStatement{Line: line}
			start = i
			depth, words = 0, 0
		}
	}
	finish := func(end int) {
		if cur != nil {
			cur.Text = src[start:end]
			out = append(out, *cur)
			cur = nil
		}
	}
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && strings.HasPrefix(src[i:], "--"):
			j := strings.IndexByte(src[i:], '\n')
			if j < 0 {
				i = len(src)
			} else {
				i += j
			}
		case c == '/' && strings.HasPrefix(src[i:], "/*"):
			at := line
			nest := 0
			for {
				if i >= len(src) {
					return nil, fmt.Errorf("line %d: block comment never closed", at)
				}
				switch {
				case strings.HasPrefix(src[i:], "/*"):
					nest++
					i += 2
				case strings.HasPrefix(src[i:], "*/"):
					nest--
					i += 2
				default:
					if src[i] == '\n' {
						line++
					}
					i++
				}
				if nest == 0 {
					break
				}
			}
		case c == ';':
			if cur != nil && depth > 0 {
				i++
				continue
			}
			finish(i + 1)
			i++
		case c == '\'' || ((c == 'E' || c == 'e') && i+1 < len(src) && src[i+1] == '\''):
			begin(i)
			at := line
			escapes := c != '\''
			if escapes {
				i++
			}
			i++ // the opening quote
			for {
				if i >= len(src) {
					return nil, fmt.Errorf("line %d: string constant never closed", at)
				}
				ch := src[i]
				if ch == '\n' {
					line++
				}
				if escapes && ch == '\\' && i+1 < len(src) {
					if src[i+1] == '\n' {
						line++
					}
					i += 2
					continue
				}
				i++
				if ch == '\'' {
					if i < len(src) && src[i] == '\'' {
						i++
						continue
					}
					break
				}
			}
		case c == '"':
			begin(i)
			at := line
			i++
			for {
				if i >= len(src) {
					return nil, fmt.Errorf("line %d: quoted identifier never closed", at)
				}
				ch := src[i]
				if ch == '\n' {
					line++
				}
				i++
				if ch == '"' {
					if i < len(src) && src[i] == '"' {
						i++
						continue
					}
					break
				}
			}
		case c == '$':
			begin(i)
			tag, ok := dollarTag(src[i:])
			if !ok { // a parameter ($1) or a lone '$'
				i++
				for i < len(src) && src[i] >= '0' && src[i] <= '9' {
					i++
				}
				continue
			}
			at := line
			body := i + len(tag)
			j := strings.Index(src[body:], tag)
			if j < 0 {
				return nil, fmt.Errorf("line %d: dollar-quoted string %s never closed", at, tag)
			}
			line += strings.Count(src[i:body+j], "\n")
			i = body + j + len(tag)
		case identStart(c):
			begin(i)
			j := i + 1
			for j < len(src) && identCont(src[j]) {
				j++
			}
			w := strings.ToUpper(src[i:j])
			if words < leadingWords {
				cur.Words = append(cur.Words, w)
			}
			words++
			if routine() {
				switch w {
				case "BEGIN", "CASE":
					depth++
				case "END":
					if depth > 0 {
						depth--
					}
				}
			}
			i = j
		default:
			begin(i)
			i++
		}
	}
	finish(len(src))
	return out, nil
}

// dollarTag returns the dollar-quote delimiter s starts with ($$ or $tag$).
func dollarTag(s string) (string, bool) {
	if len(s) < 2 || s[0] != '$' {
		return "", false
	}
	j := 1
	if s[j] != '$' {
		if !dollarTagStart(s[j]) {
			return "", false
		}
		for j < len(s) && s[j] != '$' {
			if !dollarTagCont(s[j]) {
				return "", false
			}
			j++
		}
		if j >= len(s) {
			return "", false
		}
	}
	return s[:j+1], true
}

func identStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func identCont(c byte) bool { return identStart(c) || c >= '0' && c <= '9' || c == '$' }

func dollarTagStart(c byte) bool { return identStart(c) }

func dollarTagCont(c byte) bool { return identStart(c) || c >= '0' && c <= '9' }

// transactionControl names the statement if it begins, ends or splits a
// transaction, or "" if it does not.
func transactionControl(s sqlStatement) string {
	if len(s.Words) == 0 {
		return ""
	}
	w := s.Words
	second := ""
	if len(w) > 1 {
		second = w[1]
	}
	switch w[0] {
	case "BEGIN", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE":
		return w[0]
	case "START":
		if second == "TRANSACTION" {
			return "START TRANSACTION"
		}
	case "PREPARE":
		if second == "TRANSACTION" {
			return "PREPARE TRANSACTION"
		}
	}
	return ""
}

// checkMigrationSQL refuses a migration file the migrator cannot run as one
// transaction together with its record: one it cannot lex exactly, or one
// with a transaction-control statement (a COMMIT would end the migrator's
// transaction and run the rest outside it and outside the asset schema).
func checkMigrationSQL(src string) error {
	stmts, err := splitSQL(src)
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if tc := transactionControl(s); tc != "" {
			return fmt.Errorf("line %d: %s is a transaction-control statement; the migrator runs each file in one transaction with its record, so a file must not begin, end or split transactions: remove it", s.Line, tc)
		}
	}
	return nil
}
