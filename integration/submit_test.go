package integration

import "testing"

func TestOneQueueWritesOneQueueStatement(t *testing.T) {
	t.Parallel()
	got := OneQueue("executable = /bin/sleep", []string{"request_cpus", "request_memory"},
		QueueRow{Count: 2, Values: []string{"1", "512"}}, QueueRow{Count: 1, Values: []string{"2", "1500"}}, QueueRow{Count: 0, Values: []string{"9", "9"}})
	want := "executable = /bin/sleep\nqueue request_cpus, request_memory from (\n1, 512\n1, 512\n2, 1500\n)\n"
	if got != want {
		t.Errorf("OneQueue:\n%s\nwant:\n%s", got, want)
	}
}
