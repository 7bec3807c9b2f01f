package wire

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/lib/config"
)

// Logger is the provisioner's logger: JSON or console (format, else
// ehos.yaml's log.format) into file (else stderr), at ehos.yaml's level
// raised by verbose (-v info, -vv debug). The func closes the file.
func Logger(cfg *config.Config, file, format string, verbose int) (zerolog.Logger, func(), error) {
	var w io.Writer = os.Stderr
	// Colour only for a person at a terminal, never into a file.
	color := isTerminal(os.Stderr)
	closeFn := func() {}
	if file != "" {
		f, err := openLog(file)
		if err != nil {
			return zerolog.Nop(), closeFn, err
		}
		w, closeFn, color = f, func() { f.Close() }, false
	}
	if format == "" {
		format = cfg.Log.Format
	}
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, NoColor: !color, TimeFormat: time.RFC3339}
	}
	level, err := zerolog.ParseLevel(cfg.Log.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	switch {
	case verbose >= 2:
		level = zerolog.DebugLevel
	case verbose == 1 && level > zerolog.InfoLevel:
		level = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Str("daemon", "ehos_provisioner").Logger(), closeFn, nil
}

// openLog opens the provisioner's log for appending, created 0640 (owner
// and group: root and HTCondor's admins read it, jobs do not). An existing
// log that others may read, from an older version, is narrowed to 0640:
// the log names VMs, clouds and errors from the tools.
func openLog(file string) (*os.File, error) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o027 != 0 {
		if err := f.Chmod(st.Mode().Perm() &^ 0o027); err != nil {
			f.Close()
			return nil, fmt.Errorf("log %s is mode %04o (readable by others) and cannot be narrowed: %w", file, st.Mode().Perm(), err)
		}
	}
	return f, nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
