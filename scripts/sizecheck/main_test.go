package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A tree with a function and a file just at the limits and one just over
// each, a long test file, and the excepted file gone short.
func TestCheck(t *testing.T) {
	root := t.TempDir()
	write := func(path, text string) {
		t.Helper()
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// fn is a function of n lines, func line and closing brace included.
	fn := func(name string, n int) string {
		return "func " + name + "() {\n" + strings.Repeat("\t_ = 0\n", n-2) + "}\n"
	}
	lines := func(n int) string { return "package p\n" + strings.Repeat("//\n", n-1) }
	write("lib/scale/a.go", "package scale\n\n"+fn("atLimit", 80)+fn("over", 81))
	write("lib/scale/a_test.go", "package scale\n\n"+fn("longTest", 200))
	write("plugins/x/main.go", "package main\n\ntype T struct{}\n\n"+strings.Replace(fn("M", 90), "func M", "func (t *T) M", 1))
	write("lib/other/long.go", "package other\n\n"+fn("notChecked", 120))
	write("lib/x/ok.go", lines(500))
	write("lib/x/big.go", lines(501))
	write("lib/x/big_test.go", lines(900))
	write("lib/x/split.go", lines(10))
	fileExceptions["lib/x/split.go"] = "being split"
	t.Cleanup(func() { delete(fileExceptions, "lib/x/split.go") })
	write("lib/provision/p.go", "package provision\n")
	write("lib/wire/w.go", "package wire\n")

	got, err := check(root)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i] = strings.TrimPrefix(got[i], root+string(filepath.Separator))
	}
	want := []string{
		"lib/scale/a.go:83: func over is 81 lines (at most 80)",
		"lib/x/big.go: 501 lines (at most 500)",
		"lib/x/split.go: no longer over 500 lines; remove it from fileExceptions in scripts/sizecheck",
		"plugins/x/main.go:5: func T.M is 90 lines (at most 80)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("check (-want +got):\n%s", diff)
	}
}
