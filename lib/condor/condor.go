package condor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
)

// Error classes, for errors.Is. The error text names the command.
var (
	ErrToolMissing = errors.New("HTCondor tool missing")
	ErrUnreachable = errors.New("HTCondor daemon unreachable")
	ErrParse       = errors.New("unparsable HTCondor output")
)

// DefaultTimeout bounds one command when Client.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Client runs HTCondor tools. The zero value runs the tools on $PATH with the
// process's own environment.
type Client struct {
	Env     []string      // extra environment, e.g. CONDOR_CONFIG=/path; appended to os.Environ()
	BinDir  string        // directory holding the tools (or host wrappers); "" = $PATH
	Timeout time.Duration // per command; default 30s
}

// Run runs tool with args and returns its standard output. A failure is
// classified (ErrToolMissing, ErrUnreachable, or neither) and names the
// command and what the tool said on standard error.
func (c *Client) Run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	return c.run(ctx, nil, tool, args...)
}

func (c *Client) run(ctx context.Context, stdin []byte, tool string, args ...string) ([]byte, error) {
	out, _, err := c.runFull(ctx, stdin, tool, args...)
	return out, err
}

// runFull is run that also returns all the tool said on standard error
// (the error holds a summary of it).
func (c *Client) runFull(ctx context.Context, stdin []byte, tool string, args ...string) ([]byte, []byte, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	path := tool
	if c.BinDir != "" && !strings.Contains(tool, "/") {
		path = filepath.Join(c.BinDir, tool)
	}
	name := commandLine(tool, args)
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.WaitDelay = 2 * time.Second
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), stderr.Bytes(), nil
	}
	return stdout.Bytes(), stderr.Bytes(), classify(name, err, ctx.Err(), quotable(tool, stdout.String()), stderr.String())
}

// Tools whose standard output is a secret when they work, and may be one
// when they fail (a token printed before a later error).
var secretOutput = []string{"condor_token_create", "condor_token_fetch", "condor_token_request", "condor_token_request_approve"}

// quotable is the part of a failed tool's standard output that an error may
// quote: nothing of a tool that prints secrets.
func quotable(tool, stdout string) string {
	if slices.Contains(secretOutput, filepath.Base(tool)) {
		return ""
	}
	return stdout
}

// jwtLike matches an IDTOKEN (a JWT: three base64url parts, the first a
// JSON header, so "eyJ"), wherever it appears in text.
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)

// Redact replaces anything token-shaped in text by "[token redacted]": what
// a tool said is quoted in errors, which reach logs, the provisioner ad
// (readable by the whole pool), ehos status and doctor.
func Redact(text string) string {
	return jwtLike.ReplaceAllString(text, "[token redacted]")
}

// classify turns a failed run into an error of one of the classes. HTCondor's
// tools say why on stderr (sometimes stdout) in a handful of known phrasings.
func classify(name string, runErr, ctxErr error, stdout, stderr string) error {
	said := Redact(summarize(stderr))
	if said == "" {
		said = Redact(summarize(stdout))
	}
	var exitErr *exec.ExitError
	switch {
	case errors.Is(runErr, exec.ErrNotFound) || errors.Is(runErr, fs.ErrNotExist) || errors.Is(runErr, fs.ErrPermission):
		return fmt.Errorf("%s: %w: %v", name, ErrToolMissing, runErr)
	case ctxErr != nil:
		return fmt.Errorf("%s: %w: no answer (%v)%s", name, ErrUnreachable, ctxErr, suffix(said))
	case errors.As(runErr, &exitErr) && exitErr.ExitCode() == 127:
		return fmt.Errorf("%s: %w: %s", name, ErrToolMissing, orDefault(said, runErr.Error()))
	case unreachable(stderr + "\n" + stdout):
		return fmt.Errorf("%s: %w: %s", name, ErrUnreachable, orDefault(said, runErr.Error()))
	}
	return fmt.Errorf("%s: %v%s", name, runErr, suffix(said))
}

// unreachablePhrases are what 23.x tools print when a daemon cannot be
// reached or refuses the connection (see testdata/unreachable-*.txt).
var unreachablePhrases = []string{
	"failed to connect",
	"can't connect",
	"couldn't contact",
	"could not contact",
	"unable to contact",
	"cannot contact",
	"failed to fetch ads",
	"can't find address",
	"cannot find address",
	"unable to locate",
	"connection refused",
	"communication error",
	"timed out",
	"error: could not connect",
	"cedar:6001",
	"secman:2007",
}

func unreachable(text string) bool {
	t := strings.ToLower(text)
	for _, p := range unreachablePhrases {
		if strings.Contains(t, p) {
			return true
		}
	}
	return false
}

// summarize keeps the first few non-empty lines of a tool's complaint.
func summarize(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
		if len(lines) == 4 {
			break
		}
	}
	return strings.Join(lines, "; ")
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func commandLine(tool string, args []string) string {
	parts := []string{filepath.Base(tool)}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// parseAds reads -json output, naming the command on failure.
func parseAds(name string, out []byte) ([]classad.Ad, error) {
	ads, err := classad.ParseJSON(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", name, ErrParse, err)
	}
	return ads, nil
}
