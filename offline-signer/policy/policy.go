package policy

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"

	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// Policy is the signer's policy file (policy.toml beside the keystore).
type Policy struct {
	// Network is mainnet, testnet, signet or regtest.
	Network string `toml:"network"`
	// HotWalletDescriptor is the hot wallet's account key: outputs to its
	// addresses are allowed (cold-to-hot top-ups).
	HotWalletDescriptor string `toml:"hot_wallet_descriptor"`
	// HotWalletLookahead is how many receive and change indexes of the hot
	// wallet are searched for an output (default 1000). A derivation the
	// PSBT states for an output is never trusted: only the search counts.
	HotWalletLookahead uint32 `toml:"hot_wallet_lookahead"`
	// ChangeLookahead bounds our change: an output that claims to be ours
	// must be on the change branch of an account the inputs spend from, at
	// an index below this (default 1000), so that a wallet restored from
	// the seed, scanning that many change addresses, finds it.
	ChangeLookahead uint32 `toml:"change_lookahead"`
	// AllowedAddresses are further destinations allowed by name.
	AllowedAddresses []string `toml:"allowed_addresses"`
	// MaxFeeSat caps the fee in satoshis.
	MaxFeeSat int64 `toml:"max_fee_sat"`
	// MaxFeeRate caps the fee rate in sat/vB.
	MaxFeeRate int64 `toml:"max_fee_rate"`
	// MaxFeeBasisPoints caps the fee as a share of the amount sent out of
	// the wallet (100 = 1%).
	MaxFeeBasisPoints int64 `toml:"max_fee_basis_points"`
	// AllowedSighash lists the signature hash types: ALL, and DEFAULT for
	// taproot. Nothing weaker may be added.
	AllowedSighash []string `toml:"allowed_sighash"`

	net      *chaincfg.Params
	hot      *hdkeys.AccountKey
	hotCache map[string]string // script → where in the hot wallet
	allowed  map[string]bool
}

// Default values of a new policy.
const (
	DefaultLookahead   = 1000
	MaxLookahead       = 100_000
	DefaultMaxFeeSat   = 1_000_000 // 0.01 BTC
	DefaultMaxFeeRate  = 500       // sat/vB
	DefaultMaxFeeBasis = 100       // 1%
)

// Params is the policy's network.
func (p *Policy) Params() *chaincfg.Params { return p.net }

// Load reads and validates a policy file.
func Load(path string) (*Policy, error) {
	var p Policy
	md, err := toml.DecodeFile(path, &p)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("policy %s: unknown key %s", path, und[0])
	}
	if err := p.Init(); err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return &p, nil
}

// Init fills defaults and validates.
func (p *Policy) Init() error {
	switch p.Network {
	case "mainnet":
		p.net = &chaincfg.MainNetParams
	case "testnet":
		p.net = &chaincfg.TestNet3Params
	case "signet":
		p.net = &chaincfg.SigNetParams
	case "regtest":
		p.net = &chaincfg.RegressionNetParams
	default:
		return fmt.Errorf("network %q: use mainnet, testnet, signet or regtest", p.Network)
	}
	if p.HotWalletLookahead == 0 {
		p.HotWalletLookahead = DefaultLookahead
	}
	if p.HotWalletLookahead > MaxLookahead {
		return fmt.Errorf("hot_wallet_lookahead: at most %d", MaxLookahead)
	}
	if p.ChangeLookahead == 0 {
		p.ChangeLookahead = DefaultLookahead
	}
	if p.ChangeLookahead > MaxLookahead {
		return fmt.Errorf("change_lookahead: at most %d", MaxLookahead)
	}
	if p.MaxFeeSat == 0 {
		p.MaxFeeSat = DefaultMaxFeeSat
	}
	if p.MaxFeeRate == 0 {
		p.MaxFeeRate = DefaultMaxFeeRate
	}
	if p.MaxFeeBasisPoints == 0 {
		p.MaxFeeBasisPoints = DefaultMaxFeeBasis
	}
	if p.MaxFeeSat < 0 || p.MaxFeeRate < 0 || p.MaxFeeBasisPoints < 0 || p.MaxFeeBasisPoints > 10_000 {
		return errors.New("fee caps must be positive (max_fee_basis_points at most 10000)")
	}
	if len(p.AllowedSighash) == 0 {
		p.AllowedSighash = []string{"ALL", "DEFAULT"}
	}
	for _, s := range p.AllowedSighash {
		if s != "ALL" && s != "DEFAULT" {
			return fmt.Errorf("allowed_sighash %q: only ALL and DEFAULT may be allowed (anything weaker lets others change the transaction after you sign)", s)
		}
	}
	if p.HotWalletDescriptor != "" {
		k, err := hdkeys.ParseDescriptor(p.HotWalletDescriptor, p.net)
		if err != nil {
			return fmt.Errorf("hot_wallet_descriptor: %w", err)
		}
		p.hot = k
	}
	p.allowed = map[string]bool{}
	for _, a := range p.AllowedAddresses {
		addr, err := btcutil.DecodeAddress(a, p.net)
		if err != nil || !addr.IsForNet(p.net) {
			return fmt.Errorf("allowed_addresses: %q is not a %s address", a, p.Network)
		}
		script, err := txscript.PayToAddrScript(addr)
		if err != nil {
			return err
		}
		p.allowed[string(script)] = true
	}
	if p.hot == nil && len(p.allowed) == 0 {
		return errors.New("no destination is allowed: set hot_wallet_descriptor (or allowed_addresses)")
	}
	return nil
}

// Refusal is a policy violation, naming its rule.
type Refusal struct {
	Rule   string
	Detail string
}

func (r *Refusal) Error() string { return "refused by policy (" + r.Rule + "): " + r.Detail }

func refuse(rule, format string, args ...any) error {
	return &Refusal{Rule: rule, Detail: fmt.Sprintf(format, args...)}
}

// Destination reports whether an output script is an allowed destination
// and, if so, says which: an allowed address, or a hot-wallet address among
// the first HotWalletLookahead of either branch. Whatever derivation the
// PSBT states for the output plays no part.
func (p *Policy) Destination(script []byte) (string, error) {
	if p.allowed[string(script)] {
		return "allowed address (policy)", nil
	}
	if p.hot != nil {
		if p.hotCache == nil {
			cache := map[string]string{}
			for branch := uint32(0); branch < 2; branch++ {
				for i := uint32(0); i < p.HotWalletLookahead; i++ {
					d, err := p.hot.Derive(branch, i)
					if err != nil {
						return "", err
					}
					cache[string(d.PkScript)] = fmt.Sprintf("hot wallet, %s branch index %d (%s, within the first %d)",
						branchName(branch), i, d.Origin.PathString(), p.HotWalletLookahead)
				}
			}
			p.hotCache = cache
		}
		if where, ok := p.hotCache[string(script)]; ok {
			return where, nil
		}
	}
	addr := fmt.Sprintf("script %x", script)
	if _, addrs, _, err := txscript.ExtractPkScriptAddrs(script, p.net); err == nil && len(addrs) == 1 {
		addr = addrs[0].EncodeAddress()
	}
	return "", refuse("destination", "%s is neither the hot wallet (first %d addresses of each branch) nor an allowed address", addr, p.HotWalletLookahead)
}

func branchName(b uint32) string {
	if b == hdkeys.BranchChange {
		return "change"
	}
	return "receive"
}

// Change checks where an output that re-derives from our seed sits: path
// is its full path m/purpose'/coin'/account'/branch/index, inputAccounts
// the account paths (first three steps) our inputs spend from. Change must
// go back to one of those accounts (so the same script type), on the change
// branch, below ChangeLookahead: anywhere else the coins would be ours but
// invisible to the online side and to a restore that scans the usual gap.
func (p *Policy) Change(path []uint32, inputAccounts [][]uint32) error {
	where := hdkeys.KeyOrigin{Path: path}.PathString()
	if len(path) != 5 {
		return refuse("change", "%s is not a wallet address path", where)
	}
	ok := false
	var accts []string
	for _, a := range inputAccounts {
		accts = append(accts, hdkeys.KeyOrigin{Path: a}.PathString())
		ok = ok || (len(a) == 3 && a[0] == path[0] && a[1] == path[1] && a[2] == path[2])
	}
	if !ok {
		return refuse("change", "%s is in another account than the inputs (%s): change must go back to an account the inputs spend from, with their script type",
			where, strings.Join(accts, ", "))
	}
	if path[3] != hdkeys.BranchChange {
		return refuse("change", "%s is on the receive branch (0) or an unknown one: change is on branch 1", where)
	}
	if path[4] >= p.ChangeLookahead {
		return refuse("change_lookahead", "%s: change index %d is not below change_lookahead (%d), so a wallet restored from the seed would not find it",
			where, path[4], p.ChangeLookahead)
	}
	return nil
}

// Fee checks the fee caps. moved is what leaves the wallet (outputs that
// are not our change).
func (p *Policy) Fee(fee, vsize, moved int64) error {
	if fee > p.MaxFeeSat {
		return refuse("max_fee_sat", "fee %d sat is over the cap of %d sat", fee, p.MaxFeeSat)
	}
	if vsize > 0 && fee > p.MaxFeeRate*vsize {
		return refuse("max_fee_rate", "fee rate %.1f sat/vB is over the cap of %d sat/vB", float64(fee)/float64(vsize), p.MaxFeeRate)
	}
	if moved > 0 && fee*10_000 > p.MaxFeeBasisPoints*moved {
		return refuse("max_fee_basis_points", "fee %d sat is %.2f%% of the %d sat sent, over the cap of %.2f%%",
			fee, float64(fee)*100/float64(moved), moved, float64(p.MaxFeeBasisPoints)/100)
	}
	return nil
}

// Sighash checks an input's requested signature hash type (0 = not set).
func (p *Policy) Sighash(t uint32, taproot bool) error {
	name := map[uint32]string{0x00: "DEFAULT", 0x01: "ALL", 0x02: "NONE", 0x03: "SINGLE", 0x81: "ALL|ANYONECANPAY", 0x82: "NONE|ANYONECANPAY", 0x83: "SINGLE|ANYONECANPAY"}[t]
	if name == "" {
		name = fmt.Sprintf("0x%02x", t)
	}
	if t == 0 && !taproot {
		name = "ALL" // unset on a segwit v0 input means ALL
	}
	if name == "DEFAULT" && !taproot {
		return refuse("allowed_sighash", "SIGHASH_DEFAULT exists only for taproot inputs")
	}
	for _, a := range p.AllowedSighash {
		if a == name {
			return nil
		}
	}
	return refuse("allowed_sighash", "SIGHASH_%s is not allowed (allowed: %s)", name, strings.Join(p.AllowedSighash, ", "))
}

// Example is a commented policy for `cryptoassets-signer init` to write.
func Example(network, hotDescriptor string) string {
	return fmt.Sprintf(`# What this signer may sign. Anything else is refused, naming the rule.
network = %q

# Outputs may pay the hot wallet (its first hot_wallet_lookahead receive and
# change addresses; a derivation the PSBT states is not trusted) and our own
# change. Export it with the online side's configuration.
hot_wallet_descriptor = %q
hot_wallet_lookahead = %d

# Our change must be on the change branch of an account the inputs spend
# from, below this index (what a restore from the seed scans).
change_lookahead = %d

# Further destinations, by address.
allowed_addresses = []

# Fee caps: absolute, per virtual byte, and as a share of what is sent (100 = 1%%).
max_fee_sat = %d
max_fee_rate = %d
max_fee_basis_points = %d

# Signature hash types: ALL, and DEFAULT for taproot. Nothing weaker.
allowed_sighash = ["ALL", "DEFAULT"]
`, network, hotDescriptor, DefaultLookahead, DefaultLookahead, DefaultMaxFeeSat, DefaultMaxFeeRate, DefaultMaxFeeBasis)
}

// WriteExample writes Example to path without overwriting.
func WriteExample(path, network, hotDescriptor string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(Example(network, hotDescriptor))
	return err
}
