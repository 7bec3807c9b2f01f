package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// --peers runs cloudscheduler's and COBalD's rules beside ehos, in JSON
// and in text.
func TestSimulatePeers(t *testing.T) {
	out, err := runSimulate(t, "--trace", "../../lib/sim/testdata/steady.csv", "--json", "--peers")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Peers []struct {
			Rule   string `json:"rule"`
			Result struct {
				Policy   string `json:"policy"`
				Finished int    `json:"finished"`
				Jobs     int    `json:"jobs"`
				Settled  bool   `json:"settled"`
			} `json:"result"`
			Comparison *struct {
				WaitFactor float64 `json:"wait_factor"`
			} `json:"comparison"`
		} `json:"peers"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(got.Peers) != 2 || got.Peers[0].Result.Policy != "cloudscheduler" || got.Peers[1].Result.Policy != "cobald" {
		t.Fatalf("peers: %+v", got)
	}
	for _, p := range got.Peers {
		if r := p.Result; r.Finished != r.Jobs || !r.Settled || p.Comparison == nil {
			t.Errorf("%s: %d of %d jobs finished, settled %v, comparison %v", p.Rule, r.Finished, r.Jobs, r.Settled, p.Comparison)
		}
	}
	out, err = runSimulate(t, "--trace", "../../lib/sim/testdata/steady.csv", "--peers")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"against cloudscheduler: ", "against cobald: "} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}
