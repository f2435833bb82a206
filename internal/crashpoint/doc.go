// Package crashpoint names the places where a test may kill the service
// with SIGKILL, to prove that each step of a protocol survives a crash, or
// freeze it with SIGSTOP, to prove that a process stopped mid-step and
// resumed later does no harm.
//
// Crash and pause points are compiled in only with the build tag crashpoints
// (go build -tags crashpoints). Without it, which is how every shipped
// binary is built, Hit and Pause are empty functions the compiler inlines
// away and the environment is never read.
//
// With the tag, Hit(name) kills the process with SIGKILL when the
// environment variable CRYPTOASSETS_CRASH_AT equals name, or equals
// "name:N" and this is the Nth time the process reaches name. Before dying
// it writes one line to standard error, "crashpoint: killing at NAME (hit N)",
// so a test can tell where its process died.
//
// Pause(name) is selected the same way by CRYPTOASSETS_PAUSE_AT, with its
// own count of hits. It writes "pausepoint: stopping at NAME (hit N)", stops
// the process with SIGSTOP, and once a SIGCONT resumes it writes
// "pausepoint: resumed at NAME" and returns. The election's fence is such a
// point: "fence/WORKER/ASSET".
package crashpoint

// The points of the withdrawal batch and broadcast protocol, in order.
const (
	// BatchReserved: the transaction that reserves coins and marks
	// withdrawals batched has committed.
	BatchReserved = "batch.reserved"
	// BroadcastOpened: the transaction that stores the signed bytes with
	// opened_at has committed; the node has not been asked.
	BroadcastOpened = "broadcast.opened"
	// BroadcastSent: sendrawtransaction has answered; closed_at is not
	// stored yet.
	BroadcastSent = "broadcast.sent"
	// BroadcastClosed: the transaction that stores closed_at and the
	// outcome has committed.
	BroadcastClosed = "broadcast.closed"
)

// Points lists the protocol's crash points in the order a batch reaches them.
var Points = []string{BatchReserved, BroadcastOpened, BroadcastSent, BroadcastClosed}
