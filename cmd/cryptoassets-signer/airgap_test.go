package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The air gap is structural: the signer's binary must not link anything that
// talks to a network service or to the online side.
func TestSignerDependenciesStayOffline(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps returned too little to be trusted: %v", deps)
	}
	forbidden := []struct{ what, match string }{
		{"net/http", "net/http"},
		{"the database driver", "github.com/jackc/pgx"},
		{"the node RPC client", "github.com/btcsuite/btcd/rpcclient"},
		{"the node RPC client", "github.com/cryptoassets/cryptoassets/online/chain/rpc"},
		{"the online side", "github.com/cryptoassets/cryptoassets/online"},
		{"network access", "net/rpc"},
		{"network access", "crypto/tls"},
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f.match || strings.HasPrefix(d, f.match+"/") {
				t.Errorf("cryptoassets-signer depends on %s (%s)", d, f.what)
			}
		}
	}
	var sawOwn bool
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/cryptoassets/cryptoassets/offline-signer") {
			sawOwn = true
		}
	}
	if !sawOwn {
		t.Fatal("the dependency list does not include the signer's own packages: the check is looking at the wrong thing")
	}
	// The packages the signer shares with the service are in its binary, so
	// the rules above hold for them too.
	for _, shared := range []string{
		"github.com/cryptoassets/cryptoassets/shared/keystore",
		"github.com/cryptoassets/cryptoassets/shared/passphrase",
		"github.com/cryptoassets/cryptoassets/shared/psbt/signer",
	} {
		found := false
		for _, d := range deps {
			found = found || d == shared
		}
		if !found {
			t.Errorf("the signer does not link %s: the shared package it should use has moved or been copied", shared)
		}
	}
}
