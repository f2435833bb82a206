// Package passphrase reads a passphrase from a person or a script, never
// from the command line or the environment (both are visible to other
// processes and end up in shell history and logs).
//
// Its one job is getting the secret in:
//
//   - From the terminal, without echo: /dev/tty, or standard input when
//     /dev/tty cannot be opened but standard input is a terminal. The prompt
//     goes to the terminal. If the process is interrupted (Ctrl-C, SIGTERM)
//     while echo is off, echo is turned back on before the signal takes its
//     course.
//   - From a file descriptor the caller names (the CLI's --passphrase-fd N),
//     for scripts: one line, up to the first newline, at most MaxLength
//     bytes. The descriptor is read through a duplicate, one byte at a time,
//     so nothing past the newline is consumed and the caller's descriptor
//     stays open: several passphrases can come down one pipe. A descriptor
//     that is a terminal is read without echo.
//   - From a file (the service's hot_passphrase_file): its first line, read
//     as from a descriptor. The file must be a regular file owned by the
//     user the process runs as, with no permission for group or others
//     (0600 or 0400); anything else is refused before a byte is read, since
//     a passphrase others can read protects nothing.
//
// ReadNew is for choosing a passphrase: it enforces MinLength characters and,
// when a person is typing, asks twice.
//
// Passphrases are returned as typed (bytes, no trailing newline, no other
// trimming); the caller wipes them after use. Copies this package cannot
// reach may remain: x/term's line buffer as it grows, and the kernel's
// terminal and pipe buffers.
//
// Only Unix-like systems are supported; elsewhere Read and ReadNew fail.
package passphrase
