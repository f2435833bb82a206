package batches

import "testing"

// Defaults fills only the fields left unset, with the one set of defaults
// the batcher and the cold top-ups share.
func TestFeePolicyDefaultsFillOnlyUnsetFields(t *testing.T) {
	tests := []struct {
		name    string
		in, out FeePolicy
	}{
		{"all unset", FeePolicy{}, FeePolicy{ConfTarget: 6, Fallback: 10_000, MinRelay: 1000, Max: 500_000}},
		{"negative is unset", FeePolicy{ConfTarget: -1, Fallback: -1, MinRelay: -1, Max: -1}, FeePolicy{ConfTarget: 6, Fallback: 10_000, MinRelay: 1000, Max: 500_000}},
		{"all set", FeePolicy{ConfTarget: 2, Fallback: 3000, MinRelay: 2000, Max: 90_000}, FeePolicy{ConfTarget: 2, Fallback: 3000, MinRelay: 2000, Max: 90_000}},
		{"some set", FeePolicy{Max: 20_000}, FeePolicy{ConfTarget: 6, Fallback: 10_000, MinRelay: 1000, Max: 20_000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.Defaults(); got != tc.out {
				t.Fatalf("%+v.Defaults() = %+v, want %+v", tc.in, got, tc.out)
			}
		})
	}
}
