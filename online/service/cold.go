package service

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/batcher"
	"github.com/cryptoassets/cryptoassets/online/chain"
	"github.com/cryptoassets/cryptoassets/online/cold"
	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/online/ledger"
)

// ColdConfig is an asset's cold storage policy; fees follow the batcher's.
func ColdConfig(a *config.Asset) cold.Config {
	b := BatcherConfig(a)
	return cold.Config{
		CoinConfirmations: a.CoinConfirmations, Expiry: a.TopupExpiry.Duration,
		ConfTarget: b.ConfTarget, FallbackFeeRate: b.FallbackFeeRate, MinRelayFeeRate: b.MinRelayFeeRate, MaxFeeRate: b.MaxFeeRate,
		LongTermFeeRate: b.LongTermFeeRate, MaxFee: b.MaxFee, MaxFeeRatio: b.MaxFeeRatio,
		Floor: a.HotFloorSat, Ceiling: a.HotCeilingSat, Target: a.HotTargetSat,
		ExportDir: a.ColdExportDir, Interval: a.ColdCheckInterval.Duration,
	}
}

// Cold is the watch-only cold wallet of l's asset (registered on first
// use, its address window stored), or nil when none is configured.
func Cold(ctx context.Context, cfg *config.Config, l *ledger.Ledger) (*addresses.Cold, error) {
	a := cfg.Assets[l.Asset()]
	if a.ColdWalletDescriptor == "" {
		return nil, nil
	}
	key, err := addresses.ParseKey(a.ColdWalletDescriptor, a.Params())
	if err != nil {
		return nil, fmt.Errorf("assets.%s.cold_wallet_descriptor: %w", l.Asset(), err)
	}
	c, err := addresses.NewCold(ctx, l, key, a.ColdGapLimit)
	if err != nil {
		return nil, fmt.Errorf("assets.%s: %w", l.Asset(), err)
	}
	return c, nil
}

// TopUps is the top-up exporter of l's asset with cfg's policy; it needs
// both wallets' keys configured.
func TopUps(ctx context.Context, cfg *config.Config, l *ledger.Ledger, node chain.Node, log *slog.Logger) (*cold.TopUps, error) {
	a := cfg.Assets[l.Asset()]
	if a.ColdWalletDescriptor == "" || a.HotWalletDescriptor == "" {
		return nil, fmt.Errorf("assets.%s: top-ups need cold_wallet_descriptor and hot_wallet_descriptor", l.Asset())
	}
	iss, err := Issuer(ctx, cfg, l)
	if err != nil {
		return nil, err
	}
	cw, err := Cold(ctx, cfg, l)
	if err != nil {
		return nil, err
	}
	return cold.NewTopUps(l, node, iss, cw, ColdConfig(a), log)
}

// keeper is the cold keeper of l's asset; bt nil (no hot key in this
// process) leaves its sweeps off.
func keeper(ctx context.Context, cfg *config.Config, l *ledger.Ledger, node chain.Node, bt *batcher.Batcher, log *slog.Logger) (*cold.Keeper, error) {
	tu, err := TopUps(ctx, cfg, l, node, log)
	if err != nil {
		return nil, err
	}
	var sw cold.Sweeper
	if bt != nil {
		sw = cold.SweeperFunc(func(ctx context.Context, amount int64, dest cold.SweepDest) (int64, error) {
			return bt.Sweep(ctx, amount, dest)
		})
	}
	return cold.NewKeeper(tu, sw, log), nil
}
