// Package pgbench measures the baselines the benchmarks report against:
// pgbench, on the same server and in the same run, doing what a ledger
// transfer does in plain SQL.
package pgbench
