package config

import (
	"strings"
	"testing"
	"time"
)

// A worker never outlives its token: max_lifetime defaults to token_lifetime
// minus the drain margin (drain_timeout + cycle), a max_lifetime alone
// raises the default token_lifetime, and a max_lifetime too close to the
// token's end is refused, naming both keys.
func TestWorkerLifetimeBoundedByToken(t *testing.T) {
	for _, c := range []struct {
		name      string
		yaml      string
		token     time.Duration
		maxLife   time.Duration
		wantError []string
	}{
		{name: "defaults", token: 7 * 24 * time.Hour, maxLife: 7*24*time.Hour - 2*time.Hour - 30*time.Second},
		{name: "token only", yaml: "worker:\n  token_lifetime: 24h\n", token: 24 * time.Hour, maxLife: 22*time.Hour - 30*time.Second},
		{name: "explicit zero is the default", yaml: "worker:\n  max_lifetime: 0s\n", token: 7 * 24 * time.Hour, maxLife: 7*24*time.Hour - 2*time.Hour - 30*time.Second},
		{name: "max only raises the token", yaml: "worker:\n  max_lifetime: 200h\n", token: 202*time.Hour + 30*time.Second, maxLife: 200 * time.Hour},
		{name: "both, within the margin", yaml: "scaling:\n  drain_timeout: 1h\n  cycle: 1m\nworker:\n  token_lifetime: 10h\n  max_lifetime: 8h59m\n", token: 10 * time.Hour, maxLife: 8*time.Hour + 59*time.Minute},
		{
			name:      "both, max too close to the token's end",
			yaml:      "worker:\n  token_lifetime: 10h\n  max_lifetime: 9h\n",
			wantError: []string{"worker.max_lifetime: 9h0m0s: is above worker.token_lifetime (10h0m0s) minus scaling.drain_timeout (2h0m0s) and scaling.cycle (30s)", "7h59m30s or less"},
		},
		{
			name:      "token shorter than the margin",
			yaml:      "scaling:\n  drain_timeout: 3h\nworker:\n  token_lifetime: 2h\n",
			wantError: []string{"worker.token_lifetime: 2h0m0s: leaves workers no lifetime", "scaling.drain_timeout (3h0m0s)"},
		},
		{
			name:      "min lifetime above max lifetime",
			yaml:      "scaling:\n  min_lifetime: 30h\nworker:\n  token_lifetime: 24h\n",
			wantError: []string{"scaling.min_lifetime: 30h0m0s: is above the workers' maximum lifetime (21h59m30s"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse("ehos.yaml", []byte(minimal+c.yaml))
			if len(c.wantError) > 0 {
				if err == nil {
					t.Fatalf("accepted: token %s, max lifetime %s", cfg.Worker.TokenLifetime, cfg.WorkerMaxLifetime())
				}
				for _, w := range c.wantError {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Worker.TokenLifetime != c.token || cfg.WorkerMaxLifetime() != c.maxLife {
				t.Errorf("token_lifetime %s, max lifetime %s; want %s, %s", cfg.Worker.TokenLifetime, cfg.WorkerMaxLifetime(), c.token, c.maxLife)
			}
			if cfg.WorkerMaxLifetime()+cfg.TokenMargin() > cfg.Worker.TokenLifetime {
				t.Errorf("a worker drained at %s has less than %s before its token (%s) expires", cfg.WorkerMaxLifetime(), cfg.TokenMargin(), cfg.Worker.TokenLifetime)
			}
		})
	}
}

// A knob that shortens the token after the file was read shortens the
// derived max lifetime with it.
func TestWorkerMaxLifetimeFollowsKnobs(t *testing.T) {
	cfg, err := Parse("ehos.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.ApplyKnobs(map[string]string{"EHOS_DRAIN_TIMEOUT": "1h"}); err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.WorkerMaxLifetime(), 7*24*time.Hour-time.Hour-30*time.Second; got != want {
		t.Errorf("max lifetime %s after EHOS_DRAIN_TIMEOUT = 1h, want %s", got, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
}
