// Package devenv starts and stops the throwaway servers the project develops
// and tests against: a PostgreSQL cluster in a directory of its own, or a
// primary with a synchronous streaming standby (StartPostgresHA) for
// failover, and a btcd node on regtest with segwit already active.
//
// All are real servers, run with PostgreSQL's and btcd's own programs
// (initdb, pg_ctl, pg_basebackup -R, pg_ctl promote). PostgreSQL refuses to
// run as root, so when the process is root the server programs run as the
// "postgres" user. Where the server binaries are missing they are installed
// with apt-get when that is possible, and otherwise the error names the
// command to run.
package devenv
