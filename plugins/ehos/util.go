package main

import (
	"os"
	"path/filepath"
)

func filepathJoinDir(file, name string) string { return filepath.Join(filepath.Dir(file), name) }

// sameFile says a and b name the same existing file.
func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
