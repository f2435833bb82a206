package store

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnavailable reports whether err means the database could not be reached
// or went away: a refused or broken connection, a server shutting down,
// crashing or still recovering, one out of connections, or one that no
// longer takes writes (a standby, a demoted primary, or none of a
// multi-host URL's servers accepting a read-write session while a standby
// is being promoted). The outcome of a transaction whose COMMIT met such an
// error is unknown, so a caller answers "try again" (the API: 503 with
// Retry-After) and never "done"; an idempotent retry then finds out which
// it was.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case strings.HasPrefix(pg.Code, "08"): // connection_exception
			return true
		case pg.Code == "57P01", pg.Code == "57P02", pg.Code == "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
			return true
		case pg.Code == "53300": // too_many_connections
			return true
		case pg.Code == "25006": // read_only_sql_transaction: the server is a standby now
			return true
		}
		return false
	}
	var connect *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connect) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &netErr)
}
