// Package cold is the online side of cold storage: the watch-only cold
// wallet's top-ups and the keeper that holds the hot wallet between its
// thresholds. The cold keys never come here.
//
// A top-up is a batch of kind topup (TopUps.Export): cold coins, chosen
// here, pay one fresh hot change address, change back to cold. Its
// unsigned PSBT carries what the air-gapped signer checks itself (each
// input's full previous transaction and coin, the key origins of the inputs
// and of the change) and is written as files and animated QR (WriteFiles);
// only then is it announced (Announce: cold.topup_exported, once, naming
// files that exist). The Keeper announces an export whose writer died
// between the two, after a grace (Config.AnnounceGrace). It waits in state
// reserved, its coins reserved, until it is imported
// signed (import.go), cancelled, or expires. The Keeper sweeps the hot
// surplus above the ceiling through the batcher, and exports a top-up
// below the floor, one at a time.
package cold
