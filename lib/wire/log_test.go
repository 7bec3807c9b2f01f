package wire

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLogFileIsNotWorldReadable(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "EHOSProvisionerLog")
	old := filepath.Join(dir, "OldLog")
	if err := os.WriteFile(old, []byte("line\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(old, 0o666) // past the umask
	for _, p := range []string{fresh, old} {
		f, err := openLog(p)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		st, _ := os.Stat(p)
		if st.Mode().Perm()&0o027 != 0 {
			t.Errorf("%s: mode %04o, want no group write and nothing for others", filepath.Base(p), st.Mode().Perm())
		}
	}
}
