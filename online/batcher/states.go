package batcher

// Batch states (the batches table's CHECK lists the same).
const (
	Reserved     = "reserved"
	Broadcasting = "broadcasting"
	Broadcast    = "broadcast"
	Confirmed    = "confirmed"
	Rejected     = "rejected"
	Abandoned    = "abandoned"
	Replaced     = "replaced"
	Dead         = "dead"
)

// Kind is the broadcast kind of a batch.
const Kind = "withdrawal"

// Events a batch emits, besides the withdrawals' own.
const (
	EventWithdrawalBatched   = "withdrawal.batched"
	EventWithdrawalBroadcast = "withdrawal.broadcast"
	EventWithdrawalConfirmed = "withdrawal.confirmed"
	EventWithdrawalReorged   = "withdrawal.reorged"
	EventWithdrawalFailed    = "withdrawal.failed"
	EventWithdrawalRequeued  = "withdrawal.requeued"
	// EventBatchNotBuilt says why pending withdrawals were not batched (a
	// fee cap, too little in the hot wallet), once per change of reason.
	EventBatchNotBuilt = "batch.not_built"
	EventBatchRejected = "batch.rejected"
	EventBatchDead     = "batch.dead"
)

// Crash points (internal/crashpoint) between the steps, for the tests that
// kill the process there.
const (
	CrashReserved = "batch.reserved"
	CrashOpened   = "broadcast.opened"
	CrashClosed   = "broadcast.closed"
)
