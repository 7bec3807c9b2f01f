package condorpool

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/atomicfile"
	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/provision"
)

// Reconfigurer is the condor_reconfig part of the tools; *condor.Client
// satisfies it.
type Reconfigurer interface {
	Reconfig(ctx context.Context, daemon string) error
}

// Revoker keeps the collector's SEC_TOKEN_REVOCATION_EXPR: the tokens of
// the VMs ehos deleted, by jti, until they would have expired anyway. It
// owns File, a config file the central manager includes
// (condor-config/50-ehos-central-manager.conf: include ifexist), rewrites
// it atomically and has the collector re-read it. The list lives in the
// file itself, so a restarted provisioner keeps it.
type Revoker struct {
	File   string
	Tools  Reconfigurer
	Daemon string // daemon to reconfigure; default collector

	// synced: this process has seen the collector re-read the file (or
	// found nothing to put in force). Until then an unchanged file with
	// entries is re-read all the same: a previous run may have written it
	// and died, or failed, before the reconfig.
	synced bool
}

var _ provision.TokenRevoker = (*Pool)(nil)

// RevokeTokens adds tokens to the revocation list (Pool's ability; a Pool
// without a Revoker revokes nothing).
func (p *Pool) RevokeTokens(ctx context.Context, now time.Time, toks []provision.RevokedToken) error {
	if p.Revoker == nil {
		return nil
	}
	return p.Revoker.Revoke(ctx, now, toks)
}

// revokeLine is a comment line of File holding one entry.
const revokePrefix = "# ehos-revoked "

var safeJTI = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
var unsafeVM = regexp.MustCompile(`[^A-Za-z0-9._@-]+`)

// Revoke adds toks, drops entries whose token has expired by now, and
// rewrites the file and reconfigures the collector when that changed
// anything, or when this Revoker has not yet seen the collector re-read a
// list that holds entries.
func (r *Revoker) Revoke(ctx context.Context, now time.Time, toks []provision.RevokedToken) error {
	old, err := os.ReadFile(r.File)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read token revocation file: %w", err)
	}
	entries, err := parseRevoked(old)
	if err != nil {
		return fmt.Errorf("token revocation file %s: %w", r.File, err)
	}
	var bad []string
	for _, t := range toks {
		if !safeJTI.MatchString(t.JTI) {
			bad = append(bad, t.VM)
			continue
		}
		entries[t.JTI] = provision.RevokedToken{JTI: t.JTI, Expires: t.Expires, VM: unsafeVM.ReplaceAllString(t.VM, "_")}
	}
	text := renderRevoked(entries, now)
	var errs []error
	if len(bad) > 0 {
		errs = append(errs, fmt.Errorf("token id of %s is not a plain id: not revoked", strings.Join(bad, ", ")))
	}
	if bytes.Equal(text, old) && (r.synced || len(entries) == 0) {
		r.synced = true
		return errors.Join(errs...)
	}
	r.synced = false // until the collector has re-read what is written
	if !bytes.Equal(text, old) {
		if err := atomicfile.Write(r.File, text, 0o644); err != nil {
			return errors.Join(append(errs, fmt.Errorf("write token revocation file: %w", err))...)
		}
	}
	daemon := r.Daemon
	if daemon == "" {
		daemon = "collector"
	}
	if r.Tools != nil {
		if err := r.Tools.Reconfig(ctx, daemon); err != nil {
			return errors.Join(append(errs, fmt.Errorf("token revocation written to %s, but the %s did not re-read it: %w", r.File, daemon, err))...)
		}
	}
	r.synced = true
	return errors.Join(errs...)
}

func parseRevoked(data []byte) (map[string]provision.RevokedToken, error) {
	out := map[string]provision.RevokedToken{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if !strings.HasPrefix(line, revokePrefix) {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, revokePrefix))
		if len(f) != 3 || !safeJTI.MatchString(f[0]) {
			return nil, fmt.Errorf("line %d: want %q JTI EXPIRES VM", n, strings.TrimSpace(revokePrefix))
		}
		exp, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: expiry %q: not unix seconds", n, f[1])
		}
		t := provision.RevokedToken{JTI: f[0], VM: f[2]}
		if exp > 0 {
			t.Expires = time.Unix(exp, 0).UTC()
		}
		out[t.JTI] = t
	}
	return out, sc.Err()
}

// renderRevoked writes the file: one comment line per live entry (the
// state) and the knob. Expired tokens are refused by HTCondor anyway.
func renderRevoked(entries map[string]provision.RevokedToken, now time.Time) []byte {
	var keep []provision.RevokedToken
	for _, t := range entries {
		if t.Expires.IsZero() || t.Expires.After(now) {
			keep = append(keep, t)
		}
	}
	sort.Slice(keep, func(i, j int) bool { return keep[i].JTI < keep[j].JTI })
	var b strings.Builder
	b.WriteString("# Written by ehos_provisioner; it rewrites this file whenever it deletes a VM.\n")
	b.WriteString("# The IDTOKENs of deleted VMs, by jti, kept until they would have expired.\n")
	if len(keep) == 0 {
		return []byte(b.String())
	}
	quoted := make([]string, len(keep))
	for i, t := range keep {
		exp := int64(0)
		if !t.Expires.IsZero() {
			exp = t.Expires.Unix()
		}
		fmt.Fprintf(&b, "%s%s %d %s\n", revokePrefix, t.JTI, exp, t.VM)
		quoted[i] = classad.Quote(t.JTI)
	}
	fmt.Fprintf(&b, "SEC_TOKEN_REVOCATION_EXPR = member(jti, {%s})\n", strings.Join(quoted, ", "))
	return []byte(b.String())
}
