package provision

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sortedTracks follows the tracks however they change: a swap of one VM
// for another (same count, other set) and a name tracked anew included.
func TestSortedTracks(t *testing.T) {
	p := &Provisioner{}
	p.tracks = map[string]*track{}
	steps := []struct {
		add, del []string
		want     []string
	}{
		{add: []string{"c", "a", "b"}, want: []string{"a", "b", "c"}},
		{want: []string{"a", "b", "c"}},
		{add: []string{"0"}, del: []string{"b"}, want: []string{"0", "a", "c"}},
		{del: []string{"a"}, want: []string{"0", "c"}},
		{add: []string{"b", "d"}, want: []string{"0", "b", "c", "d"}},
		{add: []string{"c"}, want: []string{"0", "b", "c", "d"}},
	}
	for i, s := range steps {
		for _, n := range s.add {
			p.tracks[n] = &track{name: n}
		}
		for _, n := range s.del {
			delete(p.tracks, n)
		}
		var got []string
		for _, tr := range p.sortedTracks() {
			if p.tracks[tr.name] != tr {
				t.Errorf("step %d: %s is not the track kept under its name", i, tr.name)
			}
			got = append(got, tr.name)
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("step %d (-want +got):\n%s", i, diff)
		}
	}
}
