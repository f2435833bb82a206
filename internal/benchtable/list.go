package main

// An entry is one `go test -bench` of the run.
type entry struct {
	id        string // names the entry's section in bench.out
	pkg       string // the package, relative to the module root
	bench     string // the -bench regexp
	benchtime string
	timeout   string // go test's -timeout, when the default 10m is too short
	what      string // one line: what a row measures and beside what
	targets   []target
	across    []across
	also      string // a regexp: the units of the other figures the table shows (bench.out keeps them all); "" shows all
}

// A target is a bound on the ratio of the rows whose name matches. A row
// with a target must report its baseline: it is what the bound is about.
type target struct {
	match string // regexp on the row's name; "" is every row of the entry
	op    string // "<=" (a time: lower is better) or ">=" (a rate)
	ratio float64
}

// An across is a bound on one row's figure over another's, both rows of
// the entry and both measured in this run: a cost that must not grow with
// a size, say.
type across struct {
	of, to string // regexps, each matching one row with a baseline
	// ratios compares the two rows' ratios, each to the baseline of its own
	// pass, instead of their figures: what the machine's speed did between
	// the two benchmarks cancels out.
	ratios bool
	target // its match unused
}

// The run, in the order of the table. Benchtimes are iteration counts, so
// a row means the same work from one run to the next; the whole run stays
// under about 20 minutes on the project's 2-core machine.
var entries = []entry{
	{
		id: "signer", pkg: "./offline-signer/sign", bench: "^BenchmarkSign500$", benchtime: "5x",
		what:    "a 500-input PSBT (P2WPKH and P2TR) reviewed, signed, finalized and checked, beside the single-core floor",
		targets: []target{{op: "<=", ratio: 0.7}},
	},
	{
		id: "transfers", pkg: "./online/ledger", bench: "^BenchmarkTransfers$", benchtime: "5000x",
		what:    "32 clients posting serializable transfers, beside pgbench's equivalent two-row update on the same server",
		targets: []target{{match: "/spread$", op: ">=", ratio: 0.5}},
		also:    "retries/commit$",
	},
	{
		id: "postings", pkg: "./online/ledger", bench: "^BenchmarkInternalPostings$", benchtime: "5000x",
		what:    "32 clients posting between a customer and the hot wallet (every deposit's and withdrawal's shape), beside pgbench's spread figure",
		targets: []target{{op: ">=", ratio: 0.5}},
		also:    "retries/commit$|^pgbench-internal-postings/s$",
	},
	{
		id: "follower", pkg: "./online/deposits", bench: "^BenchmarkFollower$", benchtime: "400x", timeout: "30m",
		what:    "blocks of ~1,000 outputs and four deposits scanned and credited, beside the raw getblockhash + getblock fetch; also beside the follower's own raw fetch (the hashes in one batch)",
		targets: []target{{match: "/watched-1000000$", op: "<=", ratio: 1.5}},
		across:  []across{{of: "/watched-1000000$", to: "/watched-1000$", ratios: true, target: target{op: "<=", ratio: 1.1}}},
	},
	{
		id: "catchup", pkg: "./online/deposits", bench: "^BenchmarkFollowerCatchUp$", benchtime: "3x", timeout: "30m",
		what:    "the follower catching up 1,000 blocks, beside fetching them raw; also beside the follower's own raw fetch (the hashes in batches)",
		targets: []target{{op: "<=", ratio: 1.2}},
	},
	{
		id: "withdrawals", pkg: "./online/withdrawals", bench: "^BenchmarkWithdrawalRequests$", benchtime: "3000x",
		what: "32 clients requesting withdrawals from 1,000 accounts, beside pgbench's spread figure",
	},
	{
		id: "limits", pkg: "./online/withdrawals", bench: "^BenchmarkWithdrawalRequestsUnderLimits$", benchtime: "2000x",
		what: "the same requests under each kind of withdrawal limit",
	},
	{
		id: "batch", pkg: "./online/batcher", bench: "^BenchmarkBatch1000Outputs500Inputs$", benchtime: "3x",
		what: "one batch of 1,000 withdrawals from 500 coins selected, built and signed, beside raw signing",
	},
	{
		id: "resolve", pkg: "./online/broadcast", bench: "^BenchmarkResolve$", benchtime: "20x",
		what: "one broadcast resolver pass over k open records the node cannot be reached for",
	},
	{
		id: "emit", pkg: "./online/events", bench: "^BenchmarkEmit$", benchtime: "1000x",
		what: "one serializable transaction emitting one event",
	},
	{
		id: "publish", pkg: "./online/events", bench: "^BenchmarkPublish$", benchtime: "20x",
		what: "1,000 pending events published in one transaction and read back",
	},
	{
		id: "instances", pkg: "./internal/hatest", bench: "^BenchmarkTransfersByInstances$", benchtime: "2000x",
		what: "32 clients posting API transfers to one, two and three serve processes on one database, beside one process",
	},
	{
		id: "addresses", pkg: "./online/addresses", bench: "^BenchmarkIssue$", benchtime: "5000x",
		what: "receive addresses derived from the account xpub, and derived and stored",
	},
}
