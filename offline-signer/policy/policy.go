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
	// wallet are searched for an output without a derivation (default 1000).
	HotWalletLookahead uint32 `toml:"hot_wallet_lookahead"`
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
	hotCache map[string]bool
	allowed  map[string]bool
}

// Default values of a new policy.
const (
	DefaultLookahead   = 1000
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
	if p.HotWalletLookahead > 100_000 {
		return errors.New("hot_wallet_lookahead: at most 100000")
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

// Destination reports whether an output script is an allowed destination.
// derivPath, when the PSBT states one for the output, is checked against
// the hot wallet's key directly; otherwise the lookahead is searched.
func (p *Policy) Destination(script []byte, derivPath []uint32) error {
	if p.allowed[string(script)] {
		return nil
	}
	if p.hot != nil {
		if len(derivPath) >= 2 {
			branch, index := derivPath[len(derivPath)-2], derivPath[len(derivPath)-1]
			if d, err := p.hot.Derive(branch, index); err == nil && string(d.PkScript) == string(script) {
				return nil
			}
		}
		if p.hotCache == nil {
			p.hotCache = map[string]bool{}
			for branch := uint32(0); branch < 2; branch++ {
				for i := uint32(0); i < p.HotWalletLookahead; i++ {
					d, err := p.hot.Derive(branch, i)
					if err != nil {
						return err
					}
					p.hotCache[string(d.PkScript)] = true
				}
			}
		}
		if p.hotCache[string(script)] {
			return nil
		}
	}
	addr := fmt.Sprintf("script %x", script)
	if _, addrs, _, err := txscript.ExtractPkScriptAddrs(script, p.net); err == nil && len(addrs) == 1 {
		addr = addrs[0].EncodeAddress()
	}
	return refuse("destination", "%s is neither the hot wallet (first %d addresses) nor an allowed address", addr, p.HotWalletLookahead)
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
# change addresses, or any address whose derivation the PSBT states) and our
# own change. Export it with the online side's configuration.
hot_wallet_descriptor = %q
hot_wallet_lookahead = %d

# Further destinations, by address.
allowed_addresses = []

# Fee caps: absolute, per virtual byte, and as a share of what is sent (100 = 1%%).
max_fee_sat = %d
max_fee_rate = %d
max_fee_basis_points = %d

# Signature hash types: ALL, and DEFAULT for taproot. Nothing weaker.
allowed_sighash = ["ALL", "DEFAULT"]
`, network, hotDescriptor, DefaultLookahead, DefaultMaxFeeSat, DefaultMaxFeeRate, DefaultMaxFeeBasis)
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
