// Package policy says what the air-gapped signer may sign: which network,
// where money may go (by default only to the hot wallet, whose account key
// the policy names, and back to our own change), how much fee it may pay
// (absolute, per virtual byte, and as a share of the amount moved), and
// which signature hash types it uses. Anything else is refused, naming the
// rule.
package policy
