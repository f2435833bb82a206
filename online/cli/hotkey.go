package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/online/config"
	"github.com/cryptoassets/cryptoassets/online/hotwallet"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/keystore"
	"github.com/cryptoassets/cryptoassets/shared/passphrase"
)

var hotPassphraseFDFlag = &cli.IntFlag{Name: "passphrase-fd", Value: -1, Usage: "read the keystore passphrase from this file descriptor instead of the terminal"}

// hotAsset resolves --asset and its hot keystore path.
func hotAsset(c *cli.Context) (*config.Asset, string, error) {
	e, err := loadEnv(c, false)
	if err != nil {
		return nil, "", err
	}
	name, err := assetNamed(c, e)
	if err != nil {
		return nil, "", err
	}
	a := e.cfg.Assets[name]
	if a.HotKeystore == "" {
		return nil, "", fmt.Errorf("assets.%s.hot_keystore is not set: name the file the hot seed is (to be) kept in", name)
	}
	return a, a.HotKeystore, nil
}

func hotkeyCommand() *cli.Command {
	return &cli.Command{
		Name:  "hotkey",
		Usage: "the hot wallet's seed, kept encrypted on this server (hot_keystore)",
		Subcommands: []*cli.Command{
			{
				Name:  "init",
				Usage: "create the hot seed: show its mnemonic once, check it was written down, store it encrypted",
				Flags: []cli.Flag{assetFlag, hotPassphraseFDFlag, &cli.IntFlag{Name: "words", Value: 24, Usage: "12 or 24 words"}},
				Action: func(c *cli.Context) error {
					a, path, err := hotAsset(c)
					if err != nil {
						return err
					}
					if err := refuseExisting(path); err != nil {
						return err
					}
					mnemonic, err := keystore.NewMnemonic(c.Int("words"))
					if err != nil {
						return err
					}
					in := bufio.NewReader(stdin(c))
					if err := keystore.ShowAndConfirm(c.App.Writer, mnemonic, func() (string, error) { return readLine(in) }); err != nil {
						return err
					}
					seed, err := keystore.SeedFromMnemonic(mnemonic, nil)
					if err != nil {
						return err
					}
					return storeHot(c, a, path, seed)
				},
			},
			{
				Name:  "restore",
				Usage: "store the hot seed from its BIP39 mnemonic, read from standard input",
				Flags: []cli.Flag{assetFlag, hotPassphraseFDFlag},
				Action: func(c *cli.Context) error {
					a, path, err := hotAsset(c)
					if err != nil {
						return err
					}
					if err := refuseExisting(path); err != nil {
						return err
					}
					fmt.Fprint(c.App.Writer, "Mnemonic (words separated by spaces): ")
					m, err := readLine(bufio.NewReader(stdin(c)))
					if err != nil {
						return err
					}
					if err := keystore.ValidateMnemonic(m); err != nil {
						return err
					}
					seed, err := keystore.SeedFromMnemonic(m, nil)
					if err != nil {
						return err
					}
					return storeHot(c, a, path, seed)
				},
			},
			{
				Name:  "xpub",
				Usage: "print the hot account's descriptor, the value for hot_wallet_descriptor",
				Flags: []cli.Flag{assetFlag, hotPassphraseFDFlag,
					&cli.StringFlag{Name: "type", Value: "p2wpkh", Usage: "p2wpkh (BIP84) or p2tr (BIP86)"},
					&cli.UintFlag{Name: "account", Value: 0, Usage: "account number"}},
				Action: func(c *cli.Context) error {
					a, path, err := hotAsset(c)
					if err != nil {
						return err
					}
					t, err := hdkeys.ParseScriptType(c.String("type"))
					if err != nil {
						return err
					}
					opts := passphrase.Options{File: a.HotPassphraseFile}
					if fd := c.Int("passphrase-fd"); fd >= 0 {
						opts = passphrase.Options{FromFD: true, FD: fd}
					}
					pass, err := passphrase.Read("Hot keystore passphrase: ", opts)
					if err != nil {
						return err
					}
					ks, err := keystore.Open(path, pass)
					clear(pass)
					if err != nil {
						return err
					}
					defer ks.Wipe()
					if got := ks.Meta().Network; got != hotwallet.Network(a.Params()) {
						return fmt.Errorf("%w: %s is for %s, the asset is on %s", hotwallet.ErrWrongNetwork, path, got, a.Network)
					}
					m, err := hdkeys.NewMaster(ks.Seed(), a.Params())
					if err != nil {
						return err
					}
					defer m.Zero()
					acct, err := m.Account(t, uint32(c.Uint("account")))
					if err != nil {
						return err
					}
					fmt.Fprintln(c.App.Writer, acct.Descriptor())
					return nil
				},
			},
		},
	}
}

func refuseExisting(path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists: a keystore is never overwritten (move it away yourself if you mean to)", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// storeHot asks for a new passphrase and writes the keystore.
func storeHot(c *cli.Context, a *config.Asset, path string, seed []byte) error {
	defer clear(seed)
	opts := passphrase.Options{}
	if fd := c.Int("passphrase-fd"); fd >= 0 {
		opts = passphrase.Options{FromFD: true, FD: fd}
	}
	pass, err := passphrase.ReadNew("New hot keystore passphrase: ", opts)
	if err != nil {
		return err
	}
	defer clear(pass)
	net := hotwallet.Network(a.Params())
	if err := keystore.Create(path, seed, keystore.Meta{Network: net}, pass); err != nil {
		return err
	}
	m, err := hdkeys.NewMaster(seed, a.Params())
	if err != nil {
		return err
	}
	defer m.Zero()
	acct, err := m.Account(hdkeys.P2WPKH, 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "hot keystore %s written (network %s)\nhot_wallet_descriptor = %q\n", path, net, acct.Descriptor())
	return nil
}

func stdin(c *cli.Context) io.Reader {
	if c.App.Reader != nil {
		return c.App.Reader
	}
	return os.Stdin
}

func readLine(r *bufio.Reader) (string, error) {
	s, err := r.ReadString('\n')
	if err != nil && (err != io.EOF || s == "") {
		return "", fmt.Errorf("reading your answer: %w", err)
	}
	return strings.TrimSpace(s), nil
}
