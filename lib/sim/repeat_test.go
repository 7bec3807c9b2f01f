package sim

import "testing"

func TestRepeatable(t *testing.T) {
	a := runTrace(t, "testdata/bursty.csv", false)
	for i := 0; i < 3; i++ {
		b := runTrace(t, "testdata/bursty.csv", false)
		if a.CoreHours != b.CoreHours || a.MeanWait != b.MeanWait || a.Creates != b.Creates {
			t.Errorf("run %d differs: core-h %.4f/%.4f wait %.2f/%.2f creates %d/%d", i, a.CoreHours, b.CoreHours, a.MeanWait, b.MeanWait, a.Creates, b.Creates)
		}
	}
}
