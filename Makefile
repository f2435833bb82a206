# cryptoassets: see README.md. Every target works on a fresh machine: the
# servers the tests and the demo need are started by the project itself.
GO      ?= go
FUZZTIME ?= 3000x
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build test vet-fmt unit fuzz fuzz-short lint bench bench-docs demo dev-up dev-down clean

all: build

build:
	$(GO) build -o bin/ ./cmd/cryptoassets ./cmd/cryptoassets-signer

# The README's test command, and what CI runs.
test: vet-fmt unit fuzz-short

vet-fmt:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# btcd (pinned in go.mod as a tool) is built once here, so test packages
# running in parallel do not each build it on a fresh machine.
bin/btcd: go.mod go.sum
	$(GO) build -o bin/btcd github.com/btcsuite/btcd

unit: bin/btcd
	CRYPTOASSETS_BTCD=$(CURDIR)/bin/btcd $(GO) test -count=1 -timeout 20m ./...

# Every fuzz target briefly (FUZZTIME executions each); `make fuzz` runs each for 2 minutes.
fuzz-short:
	@scripts/fuzz.sh $(FUZZTIME)

fuzz:
	@scripts/fuzz.sh $(if $(filter 3000x,$(FUZZTIME)),2m,$(FUZZTIME))

lint: vet-fmt
	$(GO) run $(STATICCHECK) ./...

# The listed benchmarks beside their baselines: one table, raw output in
# bench.out. bench-docs writes that run's table into docs/benchmarks.md.
bench: bin/btcd
	@CRYPTOASSETS_BTCD=$(CURDIR)/bin/btcd scripts/bench.sh

bench-docs:
	@scripts/bench.sh --write-docs

demo: bin/btcd
	@CRYPTOASSETS_BTCD=$(CURDIR)/bin/btcd scripts/demo.sh

# The dev program (cmd/cryptoassets-dev) carries the dev servers, the faucet
# and the demo; deployments ship bin/cryptoassets and never it. HA=1 starts
# PostgreSQL as a primary with a synchronous streaming standby.
dev-up: bin/btcd
	$(GO) build -o bin/ ./cmd/cryptoassets-dev
	@CRYPTOASSETS_BTCD=$(CURDIR)/bin/btcd bin/cryptoassets-dev up --dir .dev $(if $(filter 1 yes true,$(HA)),--ha)

dev-down:
	@$(GO) run ./cmd/cryptoassets-dev down --dir .dev

clean: dev-down
	rm -rf bin .dev .demo
