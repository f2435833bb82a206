package config

import (
	"strings"
	"testing"
	"time"
)

func TestElectionKeys(t *testing.T) {
	tests := []struct {
		name, keys   string
		lease, renew time.Duration
		instance     string
		want         string // an error naming the key; "" for none
	}{
		{"defaults", "", 5 * time.Second, 5 * time.Second / 3, "", ""},
		{"lease alone: renew a third", `lease = "3s"`, 3 * time.Second, time.Second, "", ""},
		{"all set", "instance = \"web-1\"\nlease = \"2s\"\nrenew_interval = \"500ms\"", 2 * time.Second, 500 * time.Millisecond, "web-1", ""},
		{"renew above half the lease", "lease = \"2s\"\nrenew_interval = \"1500ms\"", 0, 0, "", "election.renew_interval: 1.5s must be above 0 and at most half of election.lease (2s)"},
		{"lease too short", `lease = "50ms"`, 0, 0, "", "election.lease: 50ms is out of range"},
		{"lease too long", `lease = "11m"`, 0, 0, "", "election.lease: 11m0s is out of range"},
		{"instance too long", `instance = "` + strings.Repeat("x", 201) + `"`, 0, 0, "", "election.instance: longer than 200 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv, environ := envOf()
			cfg, err := Load(write(t, good+"\n[election]\n"+tc.keys+"\n"), getenv, environ)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("want error containing %q, got %v", tc.want, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e := cfg.Election
			if e.Lease.Duration != tc.lease || e.RenewInterval.Duration != tc.renew || e.Instance != tc.instance {
				t.Fatalf("election %+v, want lease %v renew %v instance %q", e, tc.lease, tc.renew, tc.instance)
			}
		})
	}
}
