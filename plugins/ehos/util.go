package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func filepathJoinDir(file, name string) string { return filepath.Join(filepath.Dir(file), name) }

// writeFileAtomic writes data to path so that readers see the old file or
// the whole new one, never a part: a temporary file beside it (created
// 0600, so secrets are never readable by others on the way), then chmod to
// perm and rename over path. On any error path is left as it was.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
