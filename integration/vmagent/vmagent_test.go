package vmagent

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecide(t *testing.T) {
	m := map[string]string{"ehos_pool": "demo"}
	other := map[string]string{"ehos_pool": "other"}
	listed := []Server{
		{ID: "a", Status: "ACTIVE", Metadata: m},                         // new: start
		{ID: "b", Status: "ACTIVE", Metadata: m},                         // running: keep
		{ID: "c", Status: "BUILD", Metadata: m},                          // not yet
		{ID: "d", Status: "DELETED", TaskState: "deleting", Metadata: m}, // running, deleted: stop
		{ID: "e", Status: "ACTIVE", TaskState: "deleting", Metadata: m},  // running, being deleted: stop
		{ID: "f", Status: "ACTIVE", TaskState: "deleting", Metadata: m},  // being deleted: never start
		{ID: "g", Status: "ACTIVE", Metadata: other},                     // another pool
		{ID: "h", Status: "ACTIVE"},                                      // not ehos's
		{ID: "i", Status: "ERROR", Metadata: m},                          // broken: nothing to run
	}
	running := map[string]bool{"b": true, "d": true, "e": true, "z": true /* 404: not listed */}
	start, stop := Decide(running, listed, "demo")
	var ids []string
	for _, s := range start {
		ids = append(ids, s.ID)
	}
	if d := cmp.Diff([]string{"a"}, ids); d != "" {
		t.Errorf("start (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"d", "e", "z"}, stop); d != "" {
		t.Errorf("stop (-want +got):\n%s", d)
	}
	// pool "" serves every ehos pool, never foreign servers.
	start, _ = Decide(nil, listed, "")
	ids = nil
	for _, s := range start {
		ids = append(ids, s.ID)
	}
	if d := cmp.Diff([]string{"a", "b", "g"}, ids); d != "" {
		t.Errorf("pool \"\": start (-want +got):\n%s", d)
	}
}
