package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The production binary carries no dev environment: no PostgreSQL or btcd
// launcher and no faucet key (internal/devenv, internal/testenv). Those live
// in cmd/cryptoassets-dev, which deployments do not ship.
func TestProductionBinaryCarriesNoDevEnvironment(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	var sawCLI bool
	for _, d := range deps {
		sawCLI = sawCLI || d == "github.com/cryptoassets/cryptoassets/online/cli"
		for _, forbidden := range []string{
			"github.com/cryptoassets/cryptoassets/internal/devenv",
			"github.com/cryptoassets/cryptoassets/internal/testenv",
			"github.com/cryptoassets/cryptoassets/internal/storetest",
			"github.com/btcsuite/btcd/integration/rpctest",
		} {
			if d == forbidden || strings.HasPrefix(d, forbidden+"/") {
				t.Errorf("cryptoassets depends on %s, a part of the dev environment", d)
			}
		}
	}
	if !sawCLI {
		t.Fatalf("the dependency list lacks online/cli: the check is looking at the wrong thing: %v", deps)
	}
}
