// Package migrations holds the versioned SQL that builds the database,
// embedded in the binary.
//
// global/ is applied once to the public schema. asset/ is applied to one
// schema per configured asset (btc, tbtc, ...), with search_path set to that
// schema, so every asset gets the same tables and currencies cannot meet in a
// join by mistake.
//
// Files are named NNNN_description.sql. They are forward-only: an applied
// file must never change (its checksum is recorded), and a fix is a new file.
package migrations

import "embed"

// FS holds global/*.sql and asset/*.sql.
//
//go:embed global/*.sql asset/*.sql
var FS embed.FS
