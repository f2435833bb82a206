package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
)

// Config is the whole configuration.
type Config struct {
	Database Database          `toml:"database"`
	Runner   Runner            `toml:"runner"`
	HTTP     HTTP              `toml:"http"`
	Log      Log               `toml:"log"`
	Assets   map[string]*Asset `toml:"assets"`
	Webhooks []Webhook         `toml:"webhooks"`
	Election Election          `toml:"election"`
}

// Webhook is an HTTP endpoint that receives every event.
type Webhook struct {
	URL        string `toml:"url"`
	Secret     string `toml:"secret"`      // HMAC-SHA256 key; or secret_file
	SecretFile string `toml:"secret_file"` // a file holding the key
}

// SecretBytes returns the webhook's signing key.
func (w Webhook) SecretBytes() ([]byte, error) {
	if w.SecretFile == "" {
		return []byte(w.Secret), nil
	}
	b, err := os.ReadFile(w.SecretFile)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: secret_file: %w", w.URL, err)
	}
	return []byte(strings.TrimSpace(string(b))), nil
}

// Database says where PostgreSQL is.
type Database struct {
	URL      string `toml:"url"`       // env DATABASE_URL
	MaxConns int32  `toml:"max_conns"` // pool size; default 32
}

// Runner bounds the serializable transaction retries.
type Runner struct {
	MaxAttempts int      `toml:"max_attempts"` // default 10
	BaseDelay   Duration `toml:"base_delay"`   // default 2ms
	MaxDelay    Duration `toml:"max_delay"`    // default 250ms
}

// HTTP is the application API listener.
type HTTP struct {
	Listen string `toml:"listen"` // default 127.0.0.1:8080; env CRYPTOASSETS_HTTP_LISTEN
	// MetricsListen, when set, is a listener of its own for /metrics,
	// /healthz and /readyz (a private interface), and /metrics leaves the
	// API's listener. Unset: all three are on the API's listener.
	MetricsListen string `toml:"metrics_listen"` // env CRYPTOASSETS_HTTP_METRICS_LISTEN
}

// Election is how this serve process takes part in the elections of the
// singleton workers among every instance on the database.
type Election struct {
	// Instance names this process as a lease holder; default host-pid.
	// Two live processes must never share one; a restart under the same
	// name takes its leases over at once instead of waiting for them.
	Instance string `toml:"instance"`
	// Lease is how long a leader's lease lasts after each renewal; a
	// killed leader is replaced within lease + 2 × renew_interval. Default 5s.
	Lease Duration `toml:"lease"`
	// RenewInterval is how often the leader renews and a standby
	// campaigns; default lease/3, at most lease/2.
	RenewInterval Duration `toml:"renew_interval"`
}

// Log sets the service's logging.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error; default info
	Format string `toml:"format"` // text or json; default text
}

// Asset is one coin the service handles, stored in its own schema named by
// the key of the [assets.NAME] table.
type Asset struct {
	Network       string `toml:"network"`         // mainnet, testnet, signet, regtest
	RPCURL        string `toml:"rpc_url"`         // http://host:port of the node
	RPCUser       string `toml:"rpc_user"`        // with rpc_password, or use rpc_cookie_file
	RPCPassword   string `toml:"rpc_password"`    //
	RPCCookieFile string `toml:"rpc_cookie_file"` // Bitcoin Core's .cookie
	Confirmations int    `toml:"confirmations"`   // to credit a deposit; default 6 (mainnet), 1 (regtest)
	// HotWalletDescriptor is the hot wallet's account-level public key, as
	// a descriptor (wpkh([fp/84h/0h/0h]xpub...) or tr(...)) or a bare
	// xpub/zpub; receive addresses are derived from it.
	HotWalletDescriptor string `toml:"hot_wallet_descriptor"`
	// HotKeystore is the hot wallet's seed, encrypted in the signer's
	// keystore format (`cryptoassets hotkey init`); its account key must be
	// HotWalletDescriptor. Unset: the service holds no hot key.
	HotKeystore string `toml:"hot_keystore"`
	// HotPassphraseFile holds the hot keystore's passphrase on its first
	// line: a regular file of mode 0600 (or 0400) owned by the service's
	// user. Unset: serve reads it from --hot-passphrase-fd.
	HotPassphraseFile string `toml:"hot_passphrase_file"`
	// StartHeight is where the chain follower begins on a new database;
	// -1 (the default) means the node's tip at that moment.
	StartHeight *int32 `toml:"start_height"`
	// PollInterval is how often the follower asks the node for news.
	PollInterval Duration `toml:"poll_interval"`
	// MinDepositSat is the smallest output to a customer's address that is
	// credited; smaller ones are recorded as ignored. Default 546 (dust).
	MinDepositSat *int64 `toml:"min_deposit_sat"`
	// WithdrawalFeeSat is the flat fee taken from the customer's balance
	// with each withdrawal request and booked to network_fees. Default 0.
	WithdrawalFeeSat int64 `toml:"withdrawal_fee_sat"`
	// Withdrawal limits, checked in the request's transaction (0: none;
	// docs/withdrawals.md, "Limits and approvals"). MaxWithdrawalSat bounds
	// one withdrawal; AccountMaxCount and AccountMaxSat bound one account's
	// withdrawals over the rolling AccountWindow (default 24h);
	// HotOutflowPerHourSat bounds what the hot wallet pays out in any hour,
	// and a request over it trips the circuit breaker.
	MaxWithdrawalSat     int64    `toml:"max_withdrawal_sat"`
	AccountWindow        Duration `toml:"account_window"`
	AccountMaxCount      int      `toml:"account_max_count"`
	AccountMaxSat        int64    `toml:"account_max_sat"`
	HotOutflowPerHourSat int64    `toml:"hot_outflow_per_hour_sat"`
	// Approvals: a withdrawal above ApprovalAboveSat (0: none), or to a
	// destination never paid before when ApproveNewDestinations, waits in
	// awaiting_approval until Approvals different operators (default 1)
	// approve it.
	ApprovalAboveSat       int64 `toml:"approval_above_sat"`
	ApproveNewDestinations bool  `toml:"approve_new_destinations"`
	Approvals              int   `toml:"approvals"`
	// SeenExpiry is how long an unconfirmed deposit may be missing from the
	// node's mempool (in no block, inputs unspent) before it expires and its
	// pending amount is removed. Default 72h.
	SeenExpiry Duration `toml:"seen_expiry"`

	// Withdrawal batching and fee policy (docs/withdrawals.md). Rates are
	// in sat/vB and may have decimals.
	//
	// BatchInterval: the oldest requested withdrawal waits at most this
	// long for a batch. Default 1m.
	BatchInterval Duration `toml:"batch_interval"`
	// BatchThresholdCount and BatchThresholdSat batch at once when that
	// many withdrawals, or that much, are waiting. Defaults 50 and 0 (off).
	BatchThresholdCount int   `toml:"batch_threshold_count"`
	BatchThresholdSat   int64 `toml:"batch_threshold_sat"`
	// BatchMaxOutputs bounds the withdrawals paid by one transaction. Default 1000.
	BatchMaxOutputs int `toml:"batch_max_outputs"`
	// FeeConfTarget is the blocks the node's fee estimate aims at. Default 6.
	FeeConfTarget int `toml:"fee_conf_target"`
	// FallbackFeeRate is used when the node has no estimate; every rate is
	// clamped to [MinRelayFeeRate, MaxFeeRate]. Defaults 10, 1 and 500.
	FallbackFeeRate float64 `toml:"fallback_fee_rate"`
	MinRelayFeeRate float64 `toml:"min_relay_fee_rate"`
	MaxFeeRate      float64 `toml:"max_fee_rate"`
	// MaxFeeSat and MaxFeeRatio cap one batch's fee, absolutely and as a
	// share of the amount it pays: a batch over either is not built.
	// Defaults 1000000 (0.01 BTC) and 0.05.
	MaxFeeSat   int64   `toml:"max_fee_sat"`
	MaxFeeRatio float64 `toml:"max_fee_ratio"`
	// CoinConfirmations: a received coin is spent only this deep (our own
	// change at once). Default: confirmations.
	CoinConfirmations int `toml:"coin_confirmations"`
	// BumpDeadlineBlocks is how many blocks a batch has to confirm: while
	// it waits, its fee rate is raised each block along a line from its
	// first rate to its budget (the fee caps), reached at the deadline.
	// Default 6. AutoBump false leaves bumping to operators
	// (`broadcasts bump`). Default true.
	BumpDeadlineBlocks int   `toml:"bump_deadline_blocks"`
	AutoBump           *bool `toml:"auto_bump"`

	// BroadcastBrokenAfter: an open broadcast record older than this is
	// broken until an operator resolves it. Default 1h.
	BroadcastBrokenAfter Duration `toml:"broadcast_broken_after"`
	// ResolveInterval is how often serve's resolver settles open
	// broadcasts and looks for broken ones. Default 30s.
	ResolveInterval Duration `toml:"resolve_interval"`
	// AuditInterval is how often serve audits the ledger and our coins
	// against the node (docs/runbook.md, "Reading the audit"). Default 10m.
	AuditInterval Duration `toml:"audit_interval"`

	// Cold storage (docs/cold-storage.md). ColdWalletDescriptor is the
	// cold wallet's account-level public key, what `cryptoassets-signer
	// xpub` prints; the service watches its addresses and builds top-ups
	// from its coins, and never holds its private key. Unset: no cold
	// wallet, no keeper.
	ColdWalletDescriptor string `toml:"cold_wallet_descriptor"`
	// ColdGapLimit is how many unused cold addresses of each branch are
	// watched ahead. Default 20.
	ColdGapLimit int `toml:"cold_gap_limit"`
	// The keeper holds the hot wallet's free coins (spendable less what
	// pending withdrawals need) between HotFloorSat and HotCeilingSat:
	// above the ceiling it sweeps down to HotTargetSat (default the
	// midpoint), below the floor it exports a top-up up to it. 0 turns
	// that side off.
	HotFloorSat   int64 `toml:"hot_floor_sat"`
	HotCeilingSat int64 `toml:"hot_ceiling_sat"`
	HotTargetSat  int64 `toml:"hot_target_sat"`
	// TopupExpiry is how long an exported top-up waits for its import
	// before its coins are released. Default 24h.
	TopupExpiry Duration `toml:"topup_expiry"`
	// ColdExportDir is where the keeper writes the files of the top-ups it
	// exports (PSBT, base64, QR frames). Needed with hot_floor_sat.
	ColdExportDir string `toml:"cold_export_dir"`
	// ColdCheckInterval is the keeper's period. Default 30s.
	ColdCheckInterval Duration `toml:"cold_check_interval"`
}

// Networks are the accepted network names.
var Networks = []string{"mainnet", "testnet", "signet", "regtest"}

// Params returns the chain parameters of the asset's network.
func (a *Asset) Params() *chaincfg.Params {
	switch a.Network {
	case "mainnet":
		return &chaincfg.MainNetParams
	case "testnet":
		return &chaincfg.TestNet3Params
	case "signet":
		return &chaincfg.SigNetParams
	case "regtest":
		return &chaincfg.RegressionNetParams
	}
	return nil
}

// Duration is a time.Duration written as "250ms" or "2s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like \"250ms\" or \"2s\"", b)
	}
	d.Duration = v
	return nil
}

// Load reads path (optional: "" means environment only), applies environment
// overrides from getenv, fills defaults and validates.
func Load(path string, getenv func(string) string, environ []string) (*Config, error) {
	cfg := &Config{}
	if path != "" {
		md, err := toml.DecodeFile(path, cfg)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			keys := make([]string, len(und))
			for i, k := range und {
				keys[i] = k.String()
			}
			return nil, fmt.Errorf("config %s: unknown key(s) %s: check the spelling against docs/configuration.md", path, strings.Join(keys, ", "))
		}
	}
	if err := applyEnv(cfg, getenv, environ); err != nil {
		return nil, err
	}
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		if path != "" {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// LoadFromOS is Load with the process environment.
func LoadFromOS(path string) (*Config, error) {
	return Load(path, os.Getenv, os.Environ())
}

const envAssetPrefix = "CRYPTOASSETS_ASSET_"

// applyEnv applies DATABASE_URL, CRYPTOASSETS_HTTP_LISTEN,
// CRYPTOASSETS_HTTP_METRICS_LISTEN and
// CRYPTOASSETS_ASSET_<NAME>_<KEY> (KEY one of NETWORK, RPC_URL, RPC_USER,
// RPC_PASSWORD, RPC_COOKIE_FILE, CONFIRMATIONS, HOT_WALLET_DESCRIPTOR,
// HOT_KEYSTORE, HOT_PASSPHRASE_FILE, COLD_WALLET_DESCRIPTOR). An asset named only in the
// environment is created.
func applyEnv(cfg *Config, getenv func(string) string, environ []string) error {
	if v := getenv("DATABASE_URL"); v != "" {
		cfg.Database.URL = v
	}
	if v := getenv("CRYPTOASSETS_HTTP_LISTEN"); v != "" {
		cfg.HTTP.Listen = v
	}
	if v := getenv("CRYPTOASSETS_HTTP_METRICS_LISTEN"); v != "" {
		cfg.HTTP.MetricsListen = v
	}
	keys := []string{"RPC_COOKIE_FILE", "RPC_PASSWORD", "RPC_USER", "RPC_URL", "NETWORK", "CONFIRMATIONS", "COLD_WALLET_DESCRIPTOR", "HOT_WALLET_DESCRIPTOR", "HOT_KEYSTORE", "HOT_PASSPHRASE_FILE"}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(name, envAssetPrefix)
		if !ok {
			continue
		}
		var asset, key string
		for _, k := range keys {
			if a, ok := strings.CutSuffix(rest, "_"+k); ok && a != "" {
				asset, key = strings.ToLower(a), k
				break
			}
		}
		if key == "" {
			return fmt.Errorf("environment %s: want %s<ASSET>_<KEY> with KEY one of %s", name, envAssetPrefix, strings.Join(keys, ", "))
		}
		if cfg.Assets == nil {
			cfg.Assets = map[string]*Asset{}
		}
		a := cfg.Assets[asset]
		if a == nil {
			a = &Asset{}
			cfg.Assets[asset] = a
		}
		switch key {
		case "NETWORK":
			a.Network = value
		case "RPC_URL":
			a.RPCURL = value
		case "RPC_USER":
			a.RPCUser = value
		case "RPC_PASSWORD":
			a.RPCPassword = value
		case "RPC_COOKIE_FILE":
			a.RPCCookieFile = value
		case "HOT_WALLET_DESCRIPTOR":
			a.HotWalletDescriptor = value
		case "COLD_WALLET_DESCRIPTOR":
			a.ColdWalletDescriptor = value
		case "HOT_KEYSTORE":
			a.HotKeystore = value
		case "HOT_PASSPHRASE_FILE":
			a.HotPassphraseFile = value
		case "CONFIRMATIONS":
			n, err := strconv.Atoi(value)
			if err != nil {
				return fmt.Errorf("environment %s=%q: want a whole number of blocks", name, value)
			}
			a.Confirmations = n
		}
	}
	return nil
}

func (c *Config) defaults() {
	if c.Database.MaxConns == 0 {
		c.Database.MaxConns = 32
	}
	if c.Runner.MaxAttempts == 0 {
		c.Runner.MaxAttempts = 10
	}
	if c.Runner.BaseDelay.Duration == 0 {
		c.Runner.BaseDelay.Duration = 2 * time.Millisecond
	}
	if c.Runner.MaxDelay.Duration == 0 {
		c.Runner.MaxDelay.Duration = 250 * time.Millisecond
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = "127.0.0.1:8080"
	}
	if c.Election.Lease.Duration == 0 {
		c.Election.Lease.Duration = 5 * time.Second
	}
	if c.Election.RenewInterval.Duration == 0 {
		c.Election.RenewInterval.Duration = c.Election.Lease.Duration / 3
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	for _, a := range c.Assets {
		if a.StartHeight == nil {
			tip := int32(-1)
			a.StartHeight = &tip
		}
		if a.PollInterval.Duration == 0 {
			a.PollInterval.Duration = 2 * time.Second
		}
		if a.MinDepositSat == nil {
			dust := int64(546)
			a.MinDepositSat = &dust
		}
		if a.SeenExpiry.Duration == 0 {
			a.SeenExpiry.Duration = 72 * time.Hour
		}
		if a.Confirmations == 0 {
			a.Confirmations = 6
			if a.Network == "regtest" {
				a.Confirmations = 1
			}
		}
		if a.BatchInterval.Duration == 0 {
			a.BatchInterval.Duration = time.Minute
		}
		if a.BroadcastBrokenAfter.Duration == 0 {
			a.BroadcastBrokenAfter.Duration = time.Hour
		}
		if a.ResolveInterval.Duration == 0 {
			a.ResolveInterval.Duration = 30 * time.Second
		}
		if a.AuditInterval.Duration == 0 {
			a.AuditInterval.Duration = 10 * time.Minute
		}
		if a.AccountWindow.Duration == 0 {
			a.AccountWindow.Duration = 24 * time.Hour
		}
		if a.Approvals == 0 {
			a.Approvals = 1
		}
		if a.BatchThresholdCount == 0 {
			a.BatchThresholdCount = 50
		}
		if a.BatchMaxOutputs == 0 {
			a.BatchMaxOutputs = 1000
		}
		if a.FeeConfTarget == 0 {
			a.FeeConfTarget = 6
		}
		if a.FallbackFeeRate == 0 {
			a.FallbackFeeRate = 10
		}
		if a.MinRelayFeeRate == 0 {
			a.MinRelayFeeRate = 1
		}
		if a.MaxFeeRate == 0 {
			a.MaxFeeRate = 500
		}
		if a.MaxFeeSat == 0 {
			a.MaxFeeSat = 1_000_000
		}
		if a.MaxFeeRatio == 0 {
			a.MaxFeeRatio = 0.05
		}
		if a.CoinConfirmations == 0 {
			a.CoinConfirmations = a.Confirmations
		}
		if a.BumpDeadlineBlocks == 0 {
			a.BumpDeadlineBlocks = 6
		}
		if a.AutoBump == nil {
			on := true
			a.AutoBump = &on
		}
		if a.ColdGapLimit == 0 {
			a.ColdGapLimit = 20
		}
		if a.HotTargetSat == 0 && a.HotCeilingSat > 0 {
			a.HotTargetSat = (a.HotFloorSat + a.HotCeilingSat) / 2
		}
		if a.TopupExpiry.Duration == 0 {
			a.TopupExpiry.Duration = 24 * time.Hour
		}
		if a.ColdCheckInterval.Duration == 0 {
			a.ColdCheckInterval.Duration = 30 * time.Second
		}
	}
}

// Validate checks every setting; the error names the key and the fix.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Database.URL == "" {
		bad("database.url", "not set: set it in the config file or the DATABASE_URL environment variable, e.g. postgres://user@127.0.0.1:5432/cryptoassets")
	} else if u, err := url.Parse(c.Database.URL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("database.url", "want a URL starting postgres:// (got %q)", redact(c.Database.URL))
	}
	if c.Database.MaxConns < 2 || c.Database.MaxConns > 1000 {
		bad("database.max_conns", "%d is out of range: use 2 to 1000", c.Database.MaxConns)
	}
	if c.Runner.MaxAttempts < 1 || c.Runner.MaxAttempts > 1000 {
		bad("runner.max_attempts", "%d is out of range: use 1 to 1000", c.Runner.MaxAttempts)
	}
	if c.Runner.BaseDelay.Duration <= 0 || c.Runner.MaxDelay.Duration < c.Runner.BaseDelay.Duration {
		bad("runner.max_delay", "must be positive and not below runner.base_delay")
	}
	if l := c.Election.Lease.Duration; l < 100*time.Millisecond || l > 10*time.Minute {
		bad("election.lease", "%v is out of range: use 100ms to 10m", l)
	} else if r := c.Election.RenewInterval.Duration; r <= 0 || 2*r > l {
		bad("election.renew_interval", "%v must be above 0 and at most half of election.lease (%v)", r, l)
	}
	if len(c.Election.Instance) > 200 {
		bad("election.instance", "longer than 200 bytes")
	}
	if c.HTTP.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.HTTP.MetricsListen); err != nil {
			bad("http.metrics_listen", "%q: want host:port, e.g. 10.0.0.5:9180 (%v)", c.HTTP.MetricsListen, err)
		} else if c.HTTP.MetricsListen == c.HTTP.Listen {
			bad("http.metrics_listen", "%q is http.listen too: give the metrics a port of their own, or leave it unset to serve them beside the API", c.HTTP.MetricsListen)
		}
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", "%q: use debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q: use text or json", c.Log.Format)
	}
	for _, name := range c.AssetNames() {
		a := c.Assets[name]
		key := "assets." + name
		if err := store.ValidateSchemaName(name); err != nil {
			bad(key, "%v", err)
			continue
		}
		if a.Params() == nil {
			bad(key+".network", "%q: use one of %s", a.Network, strings.Join(Networks, ", "))
		}
		if u, err := url.Parse(a.RPCURL); a.RPCURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(key+".rpc_url", "%q: want the node's RPC address like http://127.0.0.1:8332", a.RPCURL)
		}
		switch {
		case a.RPCCookieFile != "" && (a.RPCUser != "" || a.RPCPassword != ""):
			bad(key+".rpc_cookie_file", "set either rpc_cookie_file or rpc_user and rpc_password, not both")
		case a.RPCCookieFile == "" && (a.RPCUser == "" || a.RPCPassword == ""):
			bad(key+".rpc_user", "node credentials missing: set rpc_user and rpc_password, or rpc_cookie_file")
		}
		if a.Confirmations < 1 || a.Confirmations > 1000 {
			bad(key+".confirmations", "%d is out of range: use 1 to 1000 (6 is usual on mainnet)", a.Confirmations)
		}
		if *a.StartHeight < -1 {
			bad(key+".start_height", "%d: use a block height, or -1 for the node's tip", *a.StartHeight)
		}
		if a.PollInterval.Duration < 100*time.Millisecond || a.PollInterval.Duration > time.Hour {
			bad(key+".poll_interval", "%s: use 100ms to 1h", a.PollInterval.Duration)
		}
		if a.MinDepositSat != nil && (*a.MinDepositSat < 1 || *a.MinDepositSat > 100_000_000) {
			bad(key+".min_deposit_sat", "%d is out of range: use 1 to 100000000 (546, the dust limit, is usual)", *a.MinDepositSat)
		}
		if a.WithdrawalFeeSat < 0 || a.WithdrawalFeeSat > 100_000_000 {
			bad(key+".withdrawal_fee_sat", "%d is out of range: use 0 (no fee) to 100000000", a.WithdrawalFeeSat)
		}
		for _, l := range []struct {
			name string
			v    int64
		}{{"max_withdrawal_sat", a.MaxWithdrawalSat}, {"account_max_sat", a.AccountMaxSat}, {"hot_outflow_per_hour_sat", a.HotOutflowPerHourSat}, {"approval_above_sat", a.ApprovalAboveSat}} {
			if l.v < 0 || l.v > 2_100_000_000_000_000 {
				bad(key+"."+l.name, "%d is out of range: use 0 (none) or an amount in satoshis", l.v)
			}
		}
		if a.AccountMaxCount < 0 || a.AccountMaxCount > 1_000_000 {
			bad(key+".account_max_count", "%d is out of range: use 0 (none) to 1000000", a.AccountMaxCount)
		}
		if a.AccountWindow.Duration < time.Minute || a.AccountWindow.Duration > 90*24*time.Hour {
			bad(key+".account_window", "%s: use 1m to 2160h (24h is the default)", a.AccountWindow.Duration)
		}
		if a.Approvals < 1 || a.Approvals > 10 {
			bad(key+".approvals", "%d is out of range: use 1 to 10 different operators", a.Approvals)
		}
		if a.HotPassphraseFile != "" && a.HotKeystore == "" {
			bad(key+".hot_passphrase_file", "set without hot_keystore: name the keystore it unlocks")
		}
		if a.SeenExpiry.Duration < time.Minute || a.SeenExpiry.Duration > 60*24*time.Hour {
			bad(key+".seen_expiry", "%s: use 1m to 1440h (72h is the default)", a.SeenExpiry.Duration)
		}
		if a.BatchInterval.Duration < time.Second || a.BatchInterval.Duration > 24*time.Hour {
			bad(key+".batch_interval", "%s: use 1s to 24h (1m is the default)", a.BatchInterval.Duration)
		}
		if a.BroadcastBrokenAfter.Duration < time.Minute || a.BroadcastBrokenAfter.Duration > 720*time.Hour {
			bad(key+".broadcast_broken_after", "%s: use 1m to 720h (1h is the default)", a.BroadcastBrokenAfter.Duration)
		}
		if a.ResolveInterval.Duration < time.Second || a.ResolveInterval.Duration > time.Hour {
			bad(key+".resolve_interval", "%s: use 1s to 1h (30s is the default)", a.ResolveInterval.Duration)
		}
		if a.AuditInterval.Duration < time.Minute || a.AuditInterval.Duration > 24*time.Hour {
			bad(key+".audit_interval", "%s: use 1m to 24h (10m is the default)", a.AuditInterval.Duration)
		}
		if a.BatchThresholdCount < 1 || a.BatchThresholdCount > 10_000 {
			bad(key+".batch_threshold_count", "%d is out of range: use 1 to 10000", a.BatchThresholdCount)
		}
		if a.BatchThresholdSat < 0 || a.BatchThresholdSat > 2_100_000_000_000_000 {
			bad(key+".batch_threshold_sat", "%d is out of range: use 0 (off) or an amount in satoshis", a.BatchThresholdSat)
		}
		if a.BatchMaxOutputs < 1 || a.BatchMaxOutputs > 2000 {
			bad(key+".batch_max_outputs", "%d is out of range: use 1 to 2000 (a standard transaction holds about 2,300 outputs)", a.BatchMaxOutputs)
		}
		if a.FeeConfTarget < 1 || a.FeeConfTarget > 1008 {
			bad(key+".fee_conf_target", "%d is out of range: use 1 to 1008 blocks", a.FeeConfTarget)
		}
		rates := []struct {
			name string
			v    float64
		}{{"min_relay_fee_rate", a.MinRelayFeeRate}, {"fallback_fee_rate", a.FallbackFeeRate}, {"max_fee_rate", a.MaxFeeRate}}
		for _, r := range rates {
			if !(r.v >= 0.1 && r.v <= 10_000) {
				bad(key+"."+r.name, "%v is out of range: use 0.1 to 10000 sat/vB", r.v)
			}
		}
		if a.MinRelayFeeRate > a.MaxFeeRate {
			bad(key+".max_fee_rate", "%v sat/vB is below min_relay_fee_rate (%v): no transaction could be built", a.MaxFeeRate, a.MinRelayFeeRate)
		}
		if a.MaxFeeSat < 1 || a.MaxFeeSat > 100_000_000 {
			bad(key+".max_fee_sat", "%d is out of range: use 1 to 100000000 (1 BTC)", a.MaxFeeSat)
		}
		if !(a.MaxFeeRatio > 0 && a.MaxFeeRatio <= 1) {
			bad(key+".max_fee_ratio", "%v: use a share above 0 and at most 1 (0.05 is 5%% of the amount paid)", a.MaxFeeRatio)
		}
		if a.CoinConfirmations < 1 || a.CoinConfirmations > 1000 {
			bad(key+".coin_confirmations", "%d is out of range: use 1 to 1000", a.CoinConfirmations)
		}
		if a.BumpDeadlineBlocks < 1 || a.BumpDeadlineBlocks > 1008 {
			bad(key+".bump_deadline_blocks", "%d is out of range: use 1 to 1008 blocks (6 is the default)", a.BumpDeadlineBlocks)
		}
		validateCold(a, key, bad)
	}
	for i, w := range c.Webhooks {
		key := fmt.Sprintf("webhooks[%d]", i)
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(key+".url", "%q: want an http(s) URL", w.URL)
		}
		if (w.Secret == "") == (w.SecretFile == "") {
			bad(key+".secret", "set exactly one of secret or secret_file: receivers verify the HMAC-SHA256 signature with it")
		} else if w.Secret != "" && len(w.Secret) < 16 {
			bad(key+".secret", "shorter than 16 characters: use a long random string")
		}
	}
	return errors.Join(errs...)
}

// validateCold checks the cold storage keys of one asset.
func validateCold(a *Asset, key string, bad func(key, format string, args ...any)) {
	if a.ColdWalletDescriptor != "" && a.Params() != nil {
		_, err := hdkeys.ParseDescriptor(a.ColdWalletDescriptor, a.Params())
		switch {
		case errors.Is(err, hdkeys.ErrPrivateKey):
			bad(key+".cold_wallet_descriptor", "is a private key: give the cold account's public key (what `cryptoassets-signer xpub` prints); the cold private key stays on the air-gapped signer, and this one must now be treated as exposed")
		case errors.Is(err, hdkeys.ErrWrongNetwork):
			bad(key+".cold_wallet_descriptor", "is a key of another network than %s: %v", a.Network, err)
		case err != nil:
			bad(key+".cold_wallet_descriptor", "%v", err)
		case a.ColdWalletDescriptor == a.HotWalletDescriptor:
			bad(key+".cold_wallet_descriptor", "is hot_wallet_descriptor: the cold wallet needs its own key, held only by the air-gapped signer")
		case a.HotWalletDescriptor == "":
			bad(key+".cold_wallet_descriptor", "set without hot_wallet_descriptor: top-ups pay the hot wallet's addresses")
		}
	}
	if a.ColdGapLimit < 1 || a.ColdGapLimit > 1000 {
		bad(key+".cold_gap_limit", "%d is out of range: use 1 to 1000 (20 is the default)", a.ColdGapLimit)
	}
	for _, l := range []struct {
		name string
		v    int64
	}{{"hot_floor_sat", a.HotFloorSat}, {"hot_ceiling_sat", a.HotCeilingSat}, {"hot_target_sat", a.HotTargetSat}} {
		if l.v < 0 || l.v > 2_100_000_000_000_000 {
			bad(key+"."+l.name, "%d is out of range: use 0 (off) or an amount in satoshis", l.v)
		}
	}
	if (a.HotFloorSat > 0 || a.HotCeilingSat > 0) && a.ColdWalletDescriptor == "" {
		bad(key+".hot_floor_sat", "thresholds set without cold_wallet_descriptor: sweeps and top-ups need the cold wallet")
	}
	switch {
	case a.HotFloorSat > 0 && a.HotCeilingSat == 0:
		bad(key+".hot_ceiling_sat", "not set: a floor needs a ceiling above it (the target defaults to their midpoint)")
	case a.HotCeilingSat > 0 && !(a.HotFloorSat < a.HotTargetSat && a.HotTargetSat < a.HotCeilingSat):
		bad(key+".hot_target_sat", "%d: want hot_floor_sat (%d) < hot_target_sat < hot_ceiling_sat (%d)", a.HotTargetSat, a.HotFloorSat, a.HotCeilingSat)
	case a.HotCeilingSat == 0 && a.HotTargetSat != 0:
		bad(key+".hot_target_sat", "set without hot_ceiling_sat")
	}
	if a.HotFloorSat > 0 && a.ColdExportDir == "" {
		bad(key+".cold_export_dir", "not set: the keeper writes the top-ups it exports below hot_floor_sat there")
	}
	if a.TopupExpiry.Duration < 10*time.Minute || a.TopupExpiry.Duration > 720*time.Hour {
		bad(key+".topup_expiry", "%s: use 10m to 720h (24h is the default)", a.TopupExpiry.Duration)
	}
	if a.ColdCheckInterval.Duration < time.Second || a.ColdCheckInterval.Duration > time.Hour {
		bad(key+".cold_check_interval", "%s: use 1s to 1h (30s is the default)", a.ColdCheckInterval.Duration)
	}
}

// AssetNames lists the configured assets in a stable order.
func (c *Config) AssetNames() []string {
	names := make([]string, 0, len(c.Assets))
	for n := range c.Assets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// StoreAssets is the list the migrator needs.
func (c *Config) StoreAssets() []store.Asset {
	var out []store.Asset
	for _, n := range c.AssetNames() {
		out = append(out, store.Asset{Schema: n, Network: c.Assets[n].Network})
	}
	return out
}

// RunnerConfig converts the runner settings.
func (c *Config) RunnerConfig() store.RunnerConfig {
	return store.RunnerConfig{MaxAttempts: c.Runner.MaxAttempts, BaseDelay: c.Runner.BaseDelay.Duration, MaxDelay: c.Runner.MaxDelay.Duration}
}

// redact hides a password in a database URL for error messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
