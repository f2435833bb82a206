// Package testenv gives tests real servers: a PostgreSQL cluster per test
// binary (or the server named by DATABASE_URL) with a fresh database per test,
// a primary with a synchronous standby of a test's own for failover tests
// (NewHA), and btcd regtest nodes started per test. Packages that use it call
// Main from TestMain so the servers are stopped when the tests end.
package testenv
