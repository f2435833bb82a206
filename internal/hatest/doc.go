// Package hatest runs the service the way a highly available installation
// does: serve processes on a multi-host URL to a PostgreSQL primary with a
// synchronous standby, and several serve processes on one database. Its
// tests kill the primary and promote the standby under load; its benchmark
// measures API transfers per second with one, two and three instances.
// Everything is real: PostgreSQL, btcd regtest and the cryptoassets binary.
package hatest
