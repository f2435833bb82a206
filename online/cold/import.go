package cold

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	btcpsbt "github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/broadcast"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/psbt"
)

// Reasons an import is refused, for errors.Is. Each refusal names the
// top-up and what to do, and changes nothing (an expired top-up is marked
// expired first, as the keeper would have).
var (
	// ErrNotExported: the signed transaction's unsigned form is not a
	// top-up this service built. A signer can be handed anything, and
	// whatever comes back must spend and pay exactly what was exported.
	ErrNotExported = errors.New("not a top-up this service exported")
	// ErrCancelled: an operator cancelled the top-up and its coins went back.
	ErrCancelled = errors.New("was cancelled")
	// ErrExpired: the top-up was not imported before it expired.
	ErrExpired = errors.New("expired before its import")
	// ErrAlreadyImported: the top-up was imported before.
	ErrAlreadyImported = errors.New("was already imported")
	// ErrBadSignature: an input is unsigned, its signature does not verify
	// against the coin it spends, or it does not sign the whole
	// transaction.
	ErrBadSignature = errors.New("has an input whose signature is refused")
	// ErrCoinSpent: a coin the top-up spends was spent by another
	// transaction: it can never confirm.
	ErrCoinSpent = errors.New("spends a coin another transaction spent")
	// ErrUnreadable: not a PSBT, too large, malformed, or for another network.
	ErrUnreadable = errors.New("not a signed PSBT this service can read")
)

// holdImport, when set by this package's tests, runs before an import's
// transaction commits, so concurrent imports meet inside it.
var holdImport func()

// Imported is a signed top-up taken in: its batch, its transaction and what
// the broadcaster recorded after sending it.
type Imported struct {
	BatchID   int64
	TxID      chainhash.Hash
	Amount    int64 // paid to the hot wallet
	Fee       int64
	Broadcast broadcast.Record
}

// Importer takes signed top-ups back from the air-gapped signer, for one
// asset.
type Importer struct {
	runner *store.Runner
	asset  string
	schema string
	params *chaincfg.Params
	log    *slog.Logger
}

// NewImporter returns the importer of l's asset on the network params.
func NewImporter(l *ledger.Ledger, params *chaincfg.Params, log *slog.Logger) (*Importer, error) {
	if params == nil {
		return nil, errors.New("cold import: no network")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Importer{runner: l.Runner(), asset: l.Asset(), schema: pgx.Identifier{l.Asset()}.Sanitize(),
		params: params, log: log.With("asset", l.Asset())}, nil
}

// Import reads a signed PSBT (binary, base64 or hex, bounded in size),
// finalizes it, and takes it only if its unsigned transaction is exactly a
// top-up exported and still open, every input verified by the script
// engine against the coins the stored export spends (never against what the
// signed PSBT claims). The top-up moves to broadcasting and its broadcast
// record is opened in one transaction, then the transaction is sent through
// bc; the broadcaster's close hook moves the batch on. An unknown outcome
// returns the Imported with broadcast.ErrUnresolved: the resolver settles it.
func (im *Importer) Import(ctx context.Context, bc *broadcast.Broadcaster, signed []byte) (Imported, error) {
	p, err := im.read(signed)
	if err != nil {
		return Imported{}, err
	}
	unsigned := p.UnsignedTx.TxHash()
	var out Imported
	var expired int64
	err = im.runner.InTx(ctx, "cold-import", func(t *store.Tx) error {
		out, expired = Imported{}, 0
		b, err := im.exported(t, p.UnsignedTx, unsigned)
		if err != nil {
			return err
		}
		if b.state == "reserved" && b.due {
			expired = b.id // marked in its own transaction, below
			return nil
		}
		if err := b.open(); err != nil {
			return err
		}
		if err := im.unspent(t, b, unsigned); err != nil {
			return err
		}
		tx, err := b.extract(p)
		if err != nil {
			return err
		}
		if err := b.verify(tx); err != nil {
			return err
		}
		tag, err := t.Exec(`UPDATE `+im.schema+`.batches SET state = 'broadcasting', updated_at = now() WHERE id = $1 AND state = 'reserved'`, b.id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("top-up %d changed during the import: import it again", b.id)
		}
		if _, _, err := bc.OpenTx(t, broadcast.KindColdTopup, tx); err != nil {
			return err
		}
		out = Imported{BatchID: b.id, TxID: tx.TxHash(), Amount: b.amount, Fee: b.fee}
		if holdImport != nil {
			holdImport()
		}
		return nil
	})
	if err != nil {
		return Imported{}, err
	}
	if expired != 0 {
		return Imported{}, im.refuseExpired(ctx, expired)
	}
	im.log.Info("signed top-up imported", "batch", out.BatchID, "txid", out.TxID)
	out.Broadcast, err = bc.Send(ctx, out.TxID)
	if err != nil && !errors.Is(err, broadcast.ErrUnresolved) {
		return out, fmt.Errorf("top-up %d (%s) is imported and its broadcast opened, but sending it failed: %w; `cryptoassets broadcasts resolve` sends it again", out.BatchID, out.TxID, err)
	}
	return out, err
}

// read decodes the signed PSBT and finalizes what a signer left partially
// signed; what does not finalize is refused once the top-up is known.
func (im *Importer) read(signed []byte) (*btcpsbt.Packet, error) {
	if i := bytes.IndexByte(signed, 0); i >= 0 && !bytes.HasPrefix(signed, []byte("psbt\xff")) {
		return nil, fmt.Errorf("%w: a NUL byte at offset %d: give the signed PSBT file as the signer wrote it (binary or base64)", ErrUnreadable, i)
	}
	p, err := psbt.Decode(signed, psbt.DefaultMaxSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	// The only network a PSBT states is that of its global extended keys
	// (PSBT_GLOBAL_XPUB: the key is 0x01 and the 78-byte serialization).
	for _, u := range p.Unknowns {
		if len(u.Key) == 79 && u.Key[0] == 0x01 && !bytes.Equal(u.Key[1:5], im.params.HDPublicKeyID[:]) {
			return nil, fmt.Errorf("%w: the PSBT names an extended key of another network than %s: it was not made for this asset", ErrUnreadable, im.params.Name)
		}
	}
	if !p.IsComplete() {
		_ = btcpsbt.MaybeFinalizeAll(p) // an input left unfinalized is refused by extract
	}
	return p, nil
}

// extract returns the network transaction of a complete p, or refuses the
// inputs that are not signed.
func (b *exportedBatch) extract(p *btcpsbt.Packet) (*wire.MsgTx, error) {
	var missing []string
	for i := range p.Inputs {
		if !isFinalized(&p.Inputs[i]) {
			missing = append(missing, fmt.Sprint(i))
		}
	}
	if len(missing) > 0 {
		what := "input " + missing[0] + " is"
		if len(missing) > 1 {
			what = "inputs " + strings.Join(missing, ", ") + " are"
		}
		return nil, fmt.Errorf("top-up %d %w: %s not signed; nothing was recorded or sent. Sign the exported PSBT on the air-gapped signer and import what it writes",
			b.id, ErrBadSignature, what)
	}
	tx, err := btcpsbt.Extract(p)
	if err != nil {
		return nil, fmt.Errorf("top-up %d: %w: extracting the signed transaction: %w", b.id, ErrUnreadable, err)
	}
	return tx, nil
}

func isFinalized(in *btcpsbt.PInput) bool {
	return in.FinalScriptSig != nil || in.FinalScriptWitness != nil
}

// exportedBatch is the stored top-up a signed transaction claims to be.
type exportedBatch struct {
	id          int64
	state       string
	psbt        *btcpsbt.Packet
	expiresAt   time.Time
	due         bool // past its expiry by the database's clock
	amount, fee int64
	cancelledBy string
	broadcastID *int64
}

// exported finds the top-up whose unsigned transaction is the signed one's,
// locked for the import, or explains why there is none.
func (im *Importer) exported(t *store.Tx, tx *wire.MsgTx, unsigned chainhash.Hash) (*exportedBatch, error) {
	var b exportedBatch
	var kind string
	var raw []byte
	var amount *int64
	var cancelledBy *string
	err := t.QueryRow(`SELECT b.id, b.kind, b.state, b.psbt, coalesce(b.expires_at, 'infinity'), coalesce(b.expires_at <= now(), false), b.transfer_amount, b.fee, b.cancelled_by, r.id
		FROM `+im.schema+`.batches b LEFT JOIN `+im.schema+`.broadcasts r ON r.txid = b.txid
		WHERE b.txid = $1 FOR UPDATE OF b`, unsigned[:]).Scan(&b.id, &kind, &b.state, &raw, &b.expiresAt, &b.due, &amount, &b.fee, &cancelledBy, &b.broadcastID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, im.notExported(t, tx, unsigned)
	}
	if err != nil {
		return nil, err
	}
	if kind != "topup" {
		return nil, fmt.Errorf("transaction %s is %w: it is batch %d, a %s batch the hot wallet signs itself; nothing was recorded or sent", unsigned, ErrNotExported, b.id, kind)
	}
	if amount != nil {
		b.amount = *amount
	}
	if cancelledBy != nil {
		b.cancelledBy = *cancelledBy
	}
	if b.psbt, err = btcpsbt.NewFromRawBytes(bytes.NewReader(raw), false); err != nil {
		return nil, fmt.Errorf("top-up %d: its stored PSBT is unreadable: %w", b.id, err)
	}
	return &b, nil
}

// unspent refuses a top-up one of whose coins the follower has seen spent
// by another transaction (the cold keys used elsewhere): sent, the node
// would only refuse it. A spend the follower has not seen yet is the
// node's to refuse.
func (im *Importer) unspent(t *store.Tx, b *exportedBatch, txid chainhash.Hash) error {
	var coinTxid, spentBy []byte
	var vout int64
	var height *int32
	err := t.QueryRow(`SELECT c.txid, c.vout, c.spent_by, c.spent_height FROM `+im.schema+`.batch_inputs i
		JOIN `+im.schema+`.coins c ON c.txid = i.txid AND c.vout = i.vout
		WHERE i.batch_id = $1 AND c.spent_by IS NOT NULL AND c.spent_by <> $2 ORDER BY c.txid, c.vout LIMIT 1`, b.id, txid[:]).Scan(&coinTxid, &vout, &spentBy, &height)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	where := "in the mempool"
	if height != nil {
		where = fmt.Sprintf("in block %d", *height)
	}
	return fmt.Errorf("top-up %d %w: its coin %s:%d was spent %s by %s, so it can never confirm; nothing was recorded or sent. Cancel it (`cryptoassets cold cancel %d`) and export a new one",
		b.id, ErrCoinSpent, chainhash.Hash(coinTxid), vout, where, chainhash.Hash(spentBy), b.id)
}

// open refuses a top-up that is no longer waiting for its signature.
func (b *exportedBatch) open() error {
	switch b.state {
	case "reserved":
		return nil
	case "cancelled":
		return fmt.Errorf("top-up %d %w (by %s): its coins were released; nothing was recorded or sent. Export a new one (`cryptoassets cold topup --amount A`) and sign that",
			b.id, ErrCancelled, b.cancelledBy)
	case "expired":
		return expiredError(b.id, b.expiresAt)
	}
	rec := ""
	if b.broadcastID != nil {
		rec = fmt.Sprintf(", broadcast record %d", *b.broadcastID)
	}
	return fmt.Errorf("top-up %d %w (it is %s%s): nothing was recorded or sent again. Follow it with `cryptoassets cold show %d` and `cryptoassets broadcasts list`",
		b.id, ErrAlreadyImported, b.state, rec, b.id)
}

func expiredError(id int64, at time.Time) error {
	return fmt.Errorf("top-up %d %w (at %s): its coins were released; nothing was recorded or sent. Export a new one (`cryptoassets cold topup --amount A`) and sign that",
		id, ErrExpired, at.UTC().Format(time.RFC3339))
}

// verify runs every input of the signed transaction through the script
// engine, with the coins the stored export spends: what the signed PSBT
// says about them is not trusted.
func (b *exportedBatch) verify(tx *wire.MsgTx) error {
	ours := b.psbt
	if len(ours.Inputs) != len(tx.TxIn) {
		return fmt.Errorf("top-up %d: the stored PSBT has %d inputs, the signed transaction %d", b.id, len(ours.Inputs), len(tx.TxIn))
	}
	fetcher := txscript.NewMultiPrevOutFetcher(nil)
	prevs := make([]*wire.TxOut, len(tx.TxIn))
	for i, in := range tx.TxIn {
		prev := ours.Inputs[i].WitnessUtxo
		if prev == nil {
			return fmt.Errorf("top-up %d: the stored PSBT has no witness UTXO for input %d", b.id, i)
		}
		prevs[i] = prev
		fetcher.AddPrevOut(in.PreviousOutPoint, prev)
	}
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	for i, in := range tx.TxIn {
		vm, err := txscript.NewEngine(prevs[i].PkScript, tx, i, txscript.StandardVerifyFlags, nil, hashes, prevs[i].Value, fetcher)
		if err == nil {
			err = vm.Execute()
		}
		if err != nil {
			err = fmt.Errorf("its signature does not verify (%v)", err)
		} else {
			err = signsAll(prevs[i].PkScript, in.Witness)
		}
		if err != nil {
			return fmt.Errorf("top-up %d %w: input %d (%s): %v; nothing was recorded or sent. Sign the exported PSBT again (`cryptoassets cold export --dir D %d` writes it) and import what the signer writes",
				b.id, ErrBadSignature, i, in.PreviousOutPoint, err, b.id)
		}
	}
	if tx.TxHash() != ours.UnsignedTx.TxHash() {
		return fmt.Errorf("top-up %d: the signed transaction's txid %s is not the exported %s (an input that is not segwit?): refusing to send", b.id, tx.TxHash(), ours.UnsignedTx.TxHash())
	}
	return nil
}

// signsAll refuses a valid signature that does not commit to every input
// and output (SIGHASH_ALL, or taproot's default): with SIGHASH_NONE or
// SINGLE, or ANYONECANPAY, whoever relays the transaction could change what
// it pays or add to what it spends.
func signsAll(script []byte, w wire.TxWitness) error {
	var t txscript.SigHashType
	switch {
	case txscript.IsPayToWitnessPubKeyHash(script) && len(w) == 2 && len(w[0]) > 0:
		t = txscript.SigHashType(w[0][len(w[0])-1])
	case txscript.IsPayToTaproot(script) && len(w) == 1 && len(w[0]) == 64:
		return nil // the default sighash: all inputs and outputs
	case txscript.IsPayToTaproot(script) && len(w) == 1 && len(w[0]) == 65:
		t = txscript.SigHashType(w[0][64])
	default:
		return fmt.Errorf("a spend this service does not sign its cold coins with (%d witness items for script %x)", len(w), script)
	}
	if t != txscript.SigHashAll {
		return fmt.Errorf("signed with sighash type %#x, not SIGHASH_ALL: whoever relays it could change what it spends or pays", uint32(t))
	}
	return nil
}

// notExported explains a transaction that is no exported top-up: when an
// exported top-up spends one of its inputs, what differs from it.
func (im *Importer) notExported(t *store.Tx, tx *wire.MsgTx, unsigned chainhash.Hash) error {
	txids := make([][]byte, len(tx.TxIn))
	vouts := make([]int32, len(tx.TxIn))
	for i, in := range tx.TxIn {
		txids[i], vouts[i] = in.PreviousOutPoint.Hash[:], int32(in.PreviousOutPoint.Index)
	}
	var id int64
	var raw []byte
	err := t.QueryRow(`SELECT b.id, b.psbt FROM `+im.schema+`.batches b
		WHERE b.kind = 'topup' AND EXISTS (SELECT 1 FROM `+im.schema+`.batch_inputs i
			JOIN unnest($1::bytea[], $2::int[]) AS o(txid, vout) ON o.txid = i.txid AND o.vout = i.vout
			WHERE i.batch_id = b.id)
		ORDER BY b.id DESC LIMIT 1`, txids, vouts).Scan(&id, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("signed transaction %s is %w: no exported top-up spends any of its inputs; nothing was recorded or sent. Import only what the signer wrote for a top-up listed by `cryptoassets cold list`",
			unsigned, ErrNotExported)
	}
	if err != nil {
		return err
	}
	p, err := btcpsbt.NewFromRawBytes(bytes.NewReader(raw), false)
	if err != nil {
		return fmt.Errorf("top-up %d: its stored PSBT is unreadable: %w", id, err)
	}
	return fmt.Errorf("signed transaction %s is %w: it spends coins of top-up %d, but %s; nothing was recorded or sent. Sign top-up %d's exported PSBT as it is (`cryptoassets cold export --dir D %d` writes it again)",
		unsigned, ErrNotExported, id, Differences(p.UnsignedTx, tx, id, im.params), id, id)
}

// Differences says how tx differs from the exported transaction ours of
// top-up id, for an operator: which of its outputs, inputs, sequences,
// locktime or version.
func Differences(ours, tx *wire.MsgTx, id int64, params *chaincfg.Params) string {
	var outs, ins, seqs, rest []string
	if len(ours.TxOut) != len(tx.TxOut) {
		outs = append(outs, fmt.Sprintf("it has %d where top-up %d has %d", len(tx.TxOut), id, len(ours.TxOut)))
	}
	for i := 0; i < min(len(ours.TxOut), len(tx.TxOut)); i++ {
		a, b := ours.TxOut[i], tx.TxOut[i]
		if a.Value != b.Value || !bytes.Equal(a.PkScript, b.PkScript) {
			outs = append(outs, fmt.Sprintf("output %d pays %d sat to %s where top-up %d's pays %d sat to %s",
				i, b.Value, scriptText(b.PkScript, params), id, a.Value, scriptText(a.PkScript, params)))
		}
	}
	if len(ours.TxIn) != len(tx.TxIn) {
		ins = append(ins, fmt.Sprintf("it has %d where top-up %d has %d", len(tx.TxIn), id, len(ours.TxIn)))
	}
	for i := 0; i < min(len(ours.TxIn), len(tx.TxIn)); i++ {
		a, b := ours.TxIn[i], tx.TxIn[i]
		if a.PreviousOutPoint != b.PreviousOutPoint {
			ins = append(ins, fmt.Sprintf("input %d spends %s where top-up %d's spends %s", i, b.PreviousOutPoint, id, a.PreviousOutPoint))
		} else if a.Sequence != b.Sequence {
			seqs = append(seqs, fmt.Sprintf("input %d has sequence %#x where top-up %d's has %#x", i, b.Sequence, id, a.Sequence))
		}
	}
	if ours.LockTime != tx.LockTime {
		rest = append(rest, fmt.Sprintf("its locktime is %d where top-up %d's is %d", tx.LockTime, id, ours.LockTime))
	}
	if ours.Version != tx.Version {
		rest = append(rest, fmt.Sprintf("its version is %d where top-up %d's is %d", tx.Version, id, ours.Version))
	}
	var d []string
	for _, g := range []struct {
		what  string
		items []string
	}{{"outputs", outs}, {"inputs", ins}, {"sequences", seqs}} {
		if len(g.items) > 0 {
			d = append(d, fmt.Sprintf("its %s differ from top-up %d's (%s)", g.what, id, strings.Join(g.items, "; ")))
		}
	}
	d = append(d, rest...)
	if len(d) == 0 {
		return fmt.Sprintf("it differs from top-up %d's", id)
	}
	return strings.Join(d, ", and ")
}

func scriptText(script []byte, params *chaincfg.Params) string {
	_, addrs, _, err := txscript.ExtractPkScriptAddrs(script, params)
	if err != nil || len(addrs) != 1 {
		return fmt.Sprintf("script %x", script)
	}
	return addrs[0].EncodeAddress()
}

// refuseExpired marks an exported top-up past its expiry as expired in its
// own committed transaction (its coins released, as the keeper would), then
// refuses the import.
func (im *Importer) refuseExpired(ctx context.Context, id int64) error {
	var at time.Time
	err := im.runner.InTx(ctx, "cold-import-expire", func(t *store.Tx) error {
		var err error
		at, err = im.expireTx(t, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("top-up %d has expired; marking it expired failed: %w", id, err)
	}
	im.log.Warn("signed top-up refused: it has expired", "batch", id, "expires_at", at)
	return expiredError(id, at)
}

// expireTx moves the reserved top-up id past its expiry to expired and
// releases its coins, with the keeper's event (ExpireDue's release).
func (im *Importer) expireTx(t *store.Tx, id int64) (time.Time, error) {
	var at time.Time
	err := t.QueryRow(`UPDATE `+im.schema+`.batches SET state = 'expired', updated_at = now()
		WHERE id = $1 AND kind = 'topup' AND state = 'reserved' AND expires_at <= now()
		RETURNING expires_at`, id).Scan(&at)
	if err != nil {
		return at, err
	}
	keeper := &TopUps{schema: im.schema, asset: im.asset}
	return at, keeper.release(t, id, EventTopupExpired, nil)
}
