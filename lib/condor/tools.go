package condor

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
)

// StatusQuery selects what condor_status returns.
type StatusQuery struct {
	Kind       string   // "-startd", "-any", "-generic", "-schedd", "-collector", ...; "" = the tool's default (slots)
	Constraint string   // ClassAd expression, passed with -constraint
	Attrs      []string // projection (-attributes); nil = whole ads
	Pool       string   // collector host:port (-pool); "" = the configured one
}

func (q StatusQuery) args() []string {
	var a []string
	if q.Pool != "" {
		a = append(a, "-pool", q.Pool)
	}
	if q.Kind != "" {
		a = append(a, q.Kind)
	}
	if q.Constraint != "" {
		a = append(a, "-constraint", q.Constraint)
	}
	if len(q.Attrs) > 0 {
		a = append(a, "-attributes", strings.Join(q.Attrs, ","))
	}
	return append(a, "-json")
}

// Status runs condor_status -json. No matching ad is no ads and no error.
func (c *Client) Status(ctx context.Context, q StatusQuery) ([]classad.Ad, error) {
	args := q.args()
	out, err := c.Run(ctx, "condor_status", args...)
	if err != nil {
		return nil, err
	}
	return parseAds(commandLine("condor_status", args), out)
}

// QueueQuery selects what condor_q returns.
type QueueQuery struct {
	Constraint string   // ClassAd expression over job ads
	Attrs      []string // projection; nil = whole job ads
	Name       string   // schedd name (-name); "" = the local one
	AllUsers   bool     // every owner's jobs, not only the caller's
}

func (q QueueQuery) args() []string {
	var a []string
	if q.Name != "" {
		a = append(a, "-name", q.Name)
	}
	if q.AllUsers {
		a = append(a, "-allusers")
	}
	if q.Constraint != "" {
		a = append(a, "-constraint", q.Constraint)
	}
	if len(q.Attrs) > 0 {
		a = append(a, "-attributes", strings.Join(q.Attrs, ","))
	}
	return append(a, "-json")
}

// Queue runs condor_q -json.
func (c *Client) Queue(ctx context.Context, q QueueQuery) ([]classad.Ad, error) {
	args := q.args()
	out, err := c.Run(ctx, "condor_q", args...)
	if err != nil {
		return nil, err
	}
	return parseAds(commandLine("condor_q", args), out)
}

// Advertise sends ads to the collector with condor_advertise -multiple
// COMMAND FILE (e.g. UPDATE_AD_GENERIC, UPDATE_STARTD_AD, INVALIDATE_ADS_GENERIC).
// The ads are written through lib/classad, so values cannot inject text.
func (c *Client) Advertise(ctx context.Context, command string, ads []classad.Ad) error {
	if len(ads) == 0 {
		return nil
	}
	text, err := classad.MarshalAds(ads)
	if err != nil {
		return fmt.Errorf("condor_advertise %s: %w", command, err)
	}
	path, cleanup, err := tempFile("ehos-ads-*.txt", text)
	if err != nil {
		return fmt.Errorf("condor_advertise %s: %w", command, err)
	}
	defer cleanup()
	out, err := c.Run(ctx, "condor_advertise", "-multiple", command, path)
	if err != nil {
		return err
	}
	// condor_advertise exits 0 even when the collector refused some ads; it
	// says so on its output.
	if s := strings.ToLower(string(out)); strings.Contains(s, "failed") || strings.Contains(s, "error") {
		return fmt.Errorf("condor_advertise -multiple %s: %s", command, Redact(summarize(string(out))))
	}
	return nil
}

// Drain runs condor_drain on machine (a startd's name; 23.x wants the slot
// name form slot1@NAME for a partitionable startd). graceful lets jobs finish
// within MAXJOBRETIREMENTTIME; otherwise they are evicted at once (-fast).
func (c *Client) Drain(ctx context.Context, machine string, graceful bool) error {
	mode := "-fast"
	if graceful {
		mode = "-graceful"
	}
	_, err := c.Run(ctx, "condor_drain", mode, machine)
	return err
}

// Reschedule asks the schedd named schedd for a negotiation now
// (condor_reschedule -name): the schedd passes the request on to the
// negotiator, which starts a cycle unless one ran within
// NEGOTIATOR_MIN_INTERVAL.
func (c *Client) Reschedule(ctx context.Context, schedd string) error {
	_, err := c.Run(ctx, "condor_reschedule", "-name", schedd)
	return err
}

// RescheduleNegotiators sends RESCHEDULE straight to every negotiator the
// collector knows (condor_reschedule -addr ADDRESS) and returns how many took
// it. HTCondor 25's schedd no longer passes an external condor_reschedule on
// to the negotiator when its last update already showed the idle jobs, so on
// 25 only this starts a cycle at once; 23.9 takes both (docs/condor-versions.md).
func (c *Client) RescheduleNegotiators(ctx context.Context) (int, error) {
	ads, err := c.Status(ctx, StatusQuery{Kind: "-negotiator", Attrs: []string{"Name", "MyAddress"}})
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []string
	for _, ad := range ads {
		addr := ad.GetString("MyAddress")
		if addr == "" {
			errs = append(errs, fmt.Sprintf("negotiator %q: no MyAddress in its ad", ad.GetString("Name")))
			continue
		}
		if _, err := c.Run(ctx, "condor_reschedule", "-addr", addr); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		n++
	}
	switch {
	case n == 0 && len(errs) > 0:
		return 0, fmt.Errorf("reschedule negotiators: %s", strings.Join(errs, "; "))
	case len(ads) == 0:
		return 0, fmt.Errorf("condor_status -negotiator: %w: no negotiator ad in the collector", ErrUnreachable)
	}
	return n, nil
}

// Off shuts a startd down: peaceful waits for running jobs to finish
// (condor_off -peaceful), otherwise they are vacated (-graceful).
func (c *Client) Off(ctx context.Context, name string, peaceful bool) error {
	mode := "-graceful"
	if peaceful {
		mode = "-peaceful"
	}
	_, err := c.Run(ctx, "condor_off", mode, "-startd", "-name", name)
	return err
}

// ConfigVal reads configuration knobs. Knobs that are not defined are absent
// from the map. One condor_config_val call reads them all (ehos reads some
// twenty knobs per command, and each call costs tens of milliseconds): it
// prints the defined values one a line, in order, and "Not defined: NAME"
// on stderr for the others. When the lines do not add up, each knob is
// read on its own.
func (c *Client) ConfigVal(ctx context.Context, names ...string) (map[string]string, error) {
	vals := make(map[string]string, len(names))
	if len(names) == 0 {
		return vals, nil
	}
	out, stderr, err := c.runFull(ctx, nil, "condor_config_val", names...)
	undefined := map[string]bool{}
	if err != nil {
		if !strings.Contains(err.Error(), "Not defined") {
			return nil, err
		}
		for _, m := range notDefined.FindAllSubmatch(stderr, -1) {
			undefined[string(m[1])] = true
		}
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(out) == 0 {
		lines = nil
	}
	var defined []string
	for _, n := range names {
		if !undefined[n] {
			defined = append(defined, n)
		}
	}
	if len(lines) == len(defined) {
		for i, n := range defined {
			vals[n] = lines[i]
		}
		return vals, nil
	}
	for _, n := range names {
		out, err := c.Run(ctx, "condor_config_val", n)
		if err != nil {
			// "Not defined: NAME" on stderr with exit status 1.
			if strings.Contains(err.Error(), "Not defined") {
				continue
			}
			return nil, err
		}
		vals[n] = strings.TrimRight(string(out), "\n")
	}
	return vals, nil
}

var notDefined = regexp.MustCompile(`Not defined: ([A-Za-z0-9_.]+)`)

// TokenRequest describes an IDTOKEN to mint with condor_token_create.
type TokenRequest struct {
	Identity string        // e.g. condor@pool
	Key      string        // signing key name in SEC_PASSWORD_DIRECTORY; "" = POOL
	Authz    []string      // e.g. ADVERTISE_STARTD, ADVERTISE_MASTER, READ; nil = unrestricted
	Lifetime time.Duration // 0 = no expiry
}

// TokenCreate mints a token. The token is a secret: it is never part of an
// error.
func (c *Client) TokenCreate(ctx context.Context, r TokenRequest) (string, error) {
	args := []string{"-identity", r.Identity}
	if r.Key != "" {
		args = append(args, "-key", r.Key)
	}
	for _, a := range r.Authz {
		args = append(args, "-authz", a)
	}
	if r.Lifetime > 0 {
		secs := int64(r.Lifetime / time.Second)
		if secs < 1 {
			secs = 1
		}
		args = append(args, "-lifetime", strconv.FormatInt(secs, 10))
	}
	out, err := c.Run(ctx, "condor_token_create", args...)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(out))
	if tok == "" || strings.ContainsAny(tok, " \n") {
		return "", fmt.Errorf("%s: %w: not a single token", commandLine("condor_token_create", args), ErrParse)
	}
	return tok, nil
}

// Submit submits the jobs described by submit-file text and returns the
// cluster id. Paths in it must be valid where the schedd runs.
func (c *Client) Submit(ctx context.Context, submit string) (int, error) {
	path, cleanup, err := tempFile("ehos-submit-*.sub", []byte(submit))
	if err != nil {
		return 0, fmt.Errorf("condor_submit: %w", err)
	}
	defer cleanup()
	out, err := c.Run(ctx, "condor_submit", "-terse", path)
	if err != nil {
		return 0, err
	}
	// -terse prints "FIRST.PROC - LAST.PROC".
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	cl, _, ok := strings.Cut(first, ".")
	n, convErr := strconv.Atoi(cl)
	if !ok || convErr != nil {
		return 0, fmt.Errorf("condor_submit -terse: %w: %q", ErrParse, summarize(string(out)))
	}
	return n, nil
}

// tempFile writes data to a world-readable file in the temp dir: the tools
// may run as another user (the pool user) inside a root that shares /tmp.
func tempFile(pattern string, data []byte) (string, func(), error) {
	f, err := os.CreateTemp("", pattern)
	if err != nil {
		return "", nil, err
	}
	name := f.Name()
	cleanup := func() { os.Remove(name) }
	if _, err := f.Write(data); err != nil {
		f.Close()
		cleanup()
		return "", nil, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		cleanup()
		return "", nil, err
	}
	if err := f.Close(); err != nil {
		cleanup()
		return "", nil, err
	}
	return name, cleanup, nil
}
