package scale

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A worker is drained peacefully before its token expires, whatever keeps
// it otherwise (min, spare, demand that could use it): stepping a cycle at a
// time, the drain comes in the first cycle at or past MaxLifetime, which
// lib/config sets to the token's lifetime minus DrainTimeout and a cycle.
// A retiring worker whose jobs outlast DrainTimeout is never deleted.
func TestMaxLifetimeDrainsBeforeTheTokenExpires(t *testing.T) {
	const cycle = 30 * time.Second
	token := 24 * time.Hour
	for _, st := range []NodeState{Idle, Busy} {
		in := base()
		in.Knobs.Min, in.Knobs.Spare = 1, 1
		in.Knobs.MaxLifetime = token - in.Knobs.DrainTimeout - cycle
		in.Demand = []Demand{jobs("s#1", 1, 1024, 1, medium)}
		created := now
		var drainedAt time.Time
		for at := created; at.Before(created.Add(token)); at = at.Add(cycle) {
			in.Now = at
			in.Nodes = []Node{node("w1", st, medium, func(n *Node) {
				n.Created, n.StateSince, n.IdleSince = created, created, created
			})}
			d := Decide(in)
			if len(d.Deletes) > 0 {
				t.Fatalf("%s: deleted at age %s: %+v", st, at.Sub(created), d.Deletes)
			}
			if len(d.Drains) > 0 {
				if d.Drains[0].Reason.Kind != DrainMaxLifetime {
					t.Fatalf("%s: drained at age %s for another reason: %+v", st, at.Sub(created), d.Drains)
				}
				drainedAt = at
				break
			}
		}
		if drainedAt.IsZero() {
			t.Fatalf("%s worker never drained within its token's lifetime %s", st, token)
		}
		if left := created.Add(token).Sub(drainedAt); left < in.Knobs.DrainTimeout {
			t.Errorf("%s worker drained %s before its token expires, less than the drain timeout %s", st, left, in.Knobs.DrainTimeout)
		}
	}

	// Its jobs outlast the drain timeout: a note, never a delete.
	in := base()
	in.Nodes = []Node{node("w1", Retiring, medium, since(3*time.Hour), running(1), age(token))}
	if d := Decide(in); len(d.Deletes) != 0 || len(d.Notes) != 1 {
		t.Errorf("retiring worker with a running job past drain timeout: %+v", d)
	}
}

// A worker whose token expires sooner than its max lifetime says (a token
// minted under an older config) is drained DrainTimeout before the token
// ends; one whose token is further away is left alone.
func TestTokenExpiryDrainsBeforeMaxLifetime(t *testing.T) {
	in := base()
	in.Knobs.MaxLifetime = 100 * time.Hour
	in.Nodes = []Node{
		node("w1", Busy, medium, func(n *Node) { n.TokenExpires = now.Add(59 * time.Minute) }),
		node("w2", Busy, medium, func(n *Node) { n.TokenExpires = now.Add(61 * time.Minute) }),
		node("w3", Idle, medium, func(n *Node) { n.TokenExpires = now.Add(-time.Minute) }),
	}
	in.Knobs.Min = 3
	d := Decide(in)
	var drained []string
	for _, a := range d.Drains {
		drained = append(drained, fmt.Sprintf("%s: %s at %s within %s", a.Node, a.Reason.Kind, a.Reason.At.Format(time.RFC3339), a.Reason.Knob))
	}
	want := []string{
		"w1: drain-token-expiry at 2026-11-24T12:59:00Z within 1h0m0s",
		"w3: drain-token-expiry at 2026-11-24T11:59:00Z within 1h0m0s",
	}
	if strings.Join(drained, "\n") != strings.Join(want, "\n") {
		t.Errorf("drains:\n%s\nwant:\n%s", strings.Join(drained, "\n"), strings.Join(want, "\n"))
	}
	if len(d.Deletes) != 0 {
		t.Errorf("deletes %+v", d.Deletes)
	}
}
