package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cryptoassets/cryptoassets/offline-signer/policy"
	"github.com/cryptoassets/cryptoassets/shared/hdkeys"
	"github.com/cryptoassets/cryptoassets/shared/keystore"
	"github.com/cryptoassets/cryptoassets/shared/passphrase"
)

func keystorePath(c *cli.Context) string { return filepath.Join(c.String("dir"), "keystore.json") }
func policyPath(c *cli.Context) string   { return filepath.Join(c.String("dir"), "policy.toml") }

func passOpts(c *cli.Context) passphrase.Options {
	if fd := c.Int("passphrase-fd"); fd >= 0 {
		return passphrase.Options{FromFD: true, FD: fd}
	}
	return passphrase.Options{}
}

var networkFlag = &cli.StringFlag{Name: "network", Value: "mainnet", Usage: "mainnet, testnet, signet or regtest"}

func networkOf(c *cli.Context) (keystore.Network, error) {
	n := keystore.Network(c.String("network"))
	if _, err := n.Params(); err != nil {
		return "", err
	}
	return n, nil
}

// lineReader reads answers typed by the person (or piped by a script).
type lineReader struct{ r *bufio.Reader }

func (l *lineReader) line() (string, error) {
	s, err := l.r.ReadString('\n')
	if err != nil && (err != io.EOF || s == "") {
		return "", fmt.Errorf("reading your answer: %w", err)
	}
	return strings.TrimSpace(s), nil
}

func reader(c *cli.Context) *lineReader {
	r := c.App.Reader
	if r == nil {
		r = os.Stdin
	}
	return &lineReader{r: bufio.NewReader(r)}
}

func initCommand() *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create a new seed: show its mnemonic once, check you wrote it down, store it encrypted",
		Flags: []cli.Flag{networkFlag,
			&cli.IntFlag{Name: "words", Value: 24, Usage: "12 or 24 words"},
			&cli.StringFlag{Name: "hot-wallet-descriptor", Usage: "the hot wallet's account key, written into the new policy.toml"}},
		Action: func(c *cli.Context) error {
			net, err := networkOf(c)
			if err != nil {
				return err
			}
			if _, err := os.Stat(keystorePath(c)); err == nil {
				return fmt.Errorf("%s exists: a keystore is never overwritten (move it away yourself if you mean to)", keystorePath(c))
			}
			mnemonic, err := keystore.NewMnemonic(c.Int("words"))
			if err != nil {
				return err
			}
			if err := keystore.ShowAndConfirm(c.App.Writer, mnemonic, reader(c).line); err != nil {
				return err
			}
			seed, err := keystore.SeedFromMnemonic(mnemonic, nil)
			if err != nil {
				return err
			}
			return store(c, seed, net)
		},
	}
}

// store encrypts seed into the keystore and writes a policy if none exists.
func store(c *cli.Context, seed []byte, net keystore.Network) error {
	defer wipe(seed)
	if err := os.MkdirAll(c.String("dir"), 0o700); err != nil {
		return err
	}
	pass, err := passphrase.ReadNew("New keystore passphrase: ", passOpts(c))
	if err != nil {
		return err
	}
	defer wipe(pass)
	if err := keystore.Create(keystorePath(c), seed, keystore.Meta{Network: net}, pass); err != nil {
		return err
	}
	fp, _ := keystore.MasterFingerprint(seed)
	fmt.Fprintf(c.App.Writer, "keystore %s written (network %s, fingerprint %s)\n", keystorePath(c), net, fp)
	if _, err := os.Stat(policyPath(c)); errors.Is(err, os.ErrNotExist) {
		if err := policy.WriteExample(policyPath(c), string(net), c.String("hot-wallet-descriptor")); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "policy %s written: review it, and set hot_wallet_descriptor if it is empty\n", policyPath(c))
	}
	return nil
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:  "restore",
		Usage: "store an existing seed from its BIP39 mnemonic (typed on standard input)",
		Flags: []cli.Flag{networkFlag,
			&cli.BoolFlag{Name: "bip39-passphrase", Usage: "the seed has a BIP39 passphrase (\"25th word\"): ask for it"},
			&cli.IntFlag{Name: "bip39-passphrase-fd", Value: -1, Usage: "read the BIP39 passphrase from this descriptor"},
			&cli.StringFlag{Name: "hot-wallet-descriptor", Usage: "the hot wallet's account key, written into a new policy.toml"}},
		Action: func(c *cli.Context) error {
			net, err := networkOf(c)
			if err != nil {
				return err
			}
			fmt.Fprint(c.App.Writer, "Mnemonic (words separated by spaces): ")
			m, err := reader(c).line()
			if err != nil {
				return err
			}
			if err := keystore.ValidateMnemonic(m); err != nil {
				return err
			}
			var bip39Pass []byte
			if fd := c.Int("bip39-passphrase-fd"); fd >= 0 || c.Bool("bip39-passphrase") {
				opts := passphrase.Options{}
				if fd >= 0 {
					opts = passphrase.Options{FromFD: true, FD: fd}
				}
				if bip39Pass, err = passphrase.Read("BIP39 passphrase: ", opts); err != nil {
					return err
				}
				defer wipe(bip39Pass)
			}
			seed, err := keystore.SeedFromMnemonic(m, bip39Pass)
			if err != nil {
				return err
			}
			return store(c, seed, net)
		},
	}
}

// openMaster opens the keystore and returns the master key; call the
// returned function when done.
func openMaster(c *cli.Context) (*hdkeys.Master, keystore.Network, func(), error) {
	pass, err := passphrase.Read("Keystore passphrase: ", passOpts(c))
	if err != nil {
		return nil, "", nil, err
	}
	ks, err := keystore.Open(keystorePath(c), pass)
	wipe(pass)
	if err != nil {
		return nil, "", nil, err
	}
	net := ks.Meta().Network
	params, err := net.Params()
	if err != nil {
		ks.Wipe()
		return nil, "", nil, err
	}
	m, err := hdkeys.NewMaster(ks.Seed(), params)
	ks.Wipe()
	if err != nil {
		return nil, "", nil, err
	}
	return m, net, m.Zero, nil
}

func xpubCommand() *cli.Command {
	return &cli.Command{
		Name:  "xpub",
		Usage: "export the cold wallet's account key as a descriptor, for the online side",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "type", Value: "p2wpkh", Usage: "p2wpkh (BIP84) or p2tr (BIP86)"},
			&cli.UintFlag{Name: "account", Value: 0, Usage: "account number"},
			&cli.BoolFlag{Name: "qr", Usage: "also show it as a QR code on the terminal"}},
		Action: func(c *cli.Context) error {
			t, err := hdkeys.ParseScriptType(c.String("type"))
			if err != nil {
				return err
			}
			m, _, done, err := openMaster(c)
			if err != nil {
				return err
			}
			defer done()
			acct, err := m.Account(t, uint32(c.Uint("account")))
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, acct.Descriptor())
			if c.Bool("qr") {
				return printTerminalQR(c, []string{acct.Descriptor()})
			}
			return nil
		},
	}
}
