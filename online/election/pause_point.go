package election

import "github.com/cryptoassets/cryptoassets/internal/crashpoint"

// pause is the election's pause point, a crashpoint.Pause: a build with
// -tags crashpoints stops itself there (SIGSTOP) when CRYPTOASSETS_PAUSE_AT
// is "fence/WORKER/ASSET" or "fence/WORKER/ASSET:N", the fence of that
// election after it read its epoch and before it asks the database, as a
// frozen process would; or "campaign/WORKER/ASSET[:N]", inside a campaign's
// transaction after the statement that locked the lease row and before the
// commit. Every shipped binary does nothing there.
func pause(name string) { crashpoint.Pause(name) }
