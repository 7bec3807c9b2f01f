package main

import "path/filepath"

func filepathJoinDir(file, name string) string { return filepath.Join(filepath.Dir(file), name) }
