package batcher

import "github.com/cryptoassets/cryptoassets/online/broadcast"

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
	// Cancelled and Expired end an exported top-up that was not imported.
	Cancelled = "cancelled"
	Expired   = "expired"
)

// Batch kinds (the batches.kind column): every transaction of ours is a
// batch of one of them.
const (
	// BatchWithdrawals: hot coins pay customers' withdrawals (and hot change).
	BatchWithdrawals = "withdrawals"
	// BatchSweep: hot coins pay one fresh cold address (and hot change).
	BatchSweep = "sweep"
	// BatchTopup: cold coins pay one fresh hot address (and cold change),
	// signed on the air-gapped signer, never by the service.
	BatchTopup = "topup"
)

// Broadcast kinds (online/broadcast) of the batch kinds.
const (
	// Kind is a withdrawals batch's broadcast kind.
	Kind      = broadcast.KindWithdrawal
	KindSweep = broadcast.KindSweep
	KindTopup = broadcast.KindColdTopup
)

// BroadcastKind is the broadcast kind of a batch of batchKind.
func BroadcastKind(batchKind string) string {
	switch batchKind {
	case BatchSweep:
		return KindSweep
	case BatchTopup:
		return KindTopup
	}
	return Kind
}

// kindOfBroadcast is the batch kind a broadcast kind stands for.
func kindOfBroadcast(kind string) string {
	switch kind {
	case KindSweep:
		return BatchSweep
	case KindTopup:
		return BatchTopup
	}
	return BatchWithdrawals
}

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

	EventSweepBroadcast = "sweep.broadcast"
	EventSweepConfirmed = "sweep.confirmed"
	EventSweepReorged   = "sweep.reorged"

	EventTopupBroadcast = "cold.topup_broadcast"
	EventTopupConfirmed = "cold.topup_confirmed"
	EventTopupReorged   = "cold.topup_reorged"
)

// Crash points (internal/crashpoint) between the steps, for the tests that
// kill the process there.
const (
	CrashReserved = "batch.reserved"
	CrashOpened   = "broadcast.opened"
	CrashClosed   = "broadcast.closed"
)
