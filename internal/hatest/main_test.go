package hatest

import (
	"testing"

	"github.com/cryptoassets/cryptoassets/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
