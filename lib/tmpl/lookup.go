package tmpl

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/ehos-project/ehos/lib/config"
)

// SearchDirs is where a bare template name is looked for, in order: the etc
// directory, the share directory, then checkout/cloudinit when checkout (a
// source tree of ehos) is not "".
func SearchDirs(t config.Templates, checkout string) []string {
	etc, share := t.EtcDir, t.ShareDir
	if etc == "" {
		etc = config.DefaultEtcDir
	}
	if share == "" {
		share = config.DefaultShareDir
	}
	dirs := []string{etc, share}
	if checkout != "" {
		dirs = append(dirs, path.Join(checkout, "cloudinit"))
	}
	return dirs
}

// Find reads a template. fsys is the file system rooted at "/" (os.DirFS("/")
// in production); paths given to Find are absolute. A name holding a '/' is
// that file. A bare name ("worker.yaml", or "worker" for worker.yaml) is
// looked up in dirs in order and the first existing file wins. Find returns
// the path it used, so callers can say which copy was rendered.
func Find(fsys fs.FS, name string, dirs []string) (string, []byte, error) {
	if name == "" {
		return "", nil, errors.New("no template name")
	}
	if strings.Contains(name, "/") {
		b, err := fs.ReadFile(fsys, strings.TrimPrefix(path.Clean(name), "/"))
		if err != nil {
			return "", nil, fmt.Errorf("read template %s: %w", name, unwrapPath(err))
		}
		return name, b, nil
	}
	names := []string{name}
	if path.Ext(name) == "" {
		names = append(names, name+".yaml")
	}
	var tried []string
	for _, d := range dirs {
		for _, n := range names {
			p := path.Join(d, n)
			b, err := fs.ReadFile(fsys, strings.TrimPrefix(p, "/"))
			if err == nil {
				return p, b, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", nil, fmt.Errorf("read template %s: %w", p, unwrapPath(err))
			}
			tried = append(tried, p)
		}
	}
	return "", nil, fmt.Errorf("template %q not found; looked in: %s", name, strings.Join(tried, ", "))
}

// unwrapPath drops fs.PathError's path (relative to the fs root, so
// confusing) and keeps its cause.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
