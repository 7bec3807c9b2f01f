package nodeinfo

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
)

// Options are the hook's inputs.
type Options struct {
	IdentityFile string
	// InstanceIDFile is read when the identity has no instance_id
	// (cloud-init writes /var/lib/cloud/data/instance-id); "" skips it.
	InstanceIDFile string
	MetadataURL    string // "" (the default): never contacted
	// Dirs HTCondor must be able to write, by knob name (EXECUTE, LOG,
	// SPOOL). An empty path is a problem: the caller could not find it.
	Dirs map[string]string
	// ScratchDir is checked for MinScratchMB free (usually EXECUTE).
	ScratchDir   string
	MinScratchMB int64
	Now          time.Time
	// BootTime is the kernel's boot time, used when the identity has none;
	// zero when unknown.
	BootTime time.Time
}

// Report is what the hook publishes.
type Report struct {
	Identity Identity
	Healthy  bool
	Reasons  []string
	// Retire is whether a retire request names this worker; nil when it
	// could not be asked (EHOSRetire is then left as it was).
	Retire *bool
}

// Check reads the identity and checks health. It never returns an error:
// every problem is a reason the worker is unhealthy.
func Check(ctx context.Context, o Options) Report {
	var r Report
	data, err := os.ReadFile(o.IdentityFile)
	if err != nil {
		r.Reasons = append(r.Reasons, "identity: "+shortErr(err))
	} else {
		var problems []string
		r.Identity, problems = ParseIdentity(data)
		for _, p := range problems {
			r.Reasons = append(r.Reasons, fmt.Sprintf("identity %s: %s", o.IdentityFile, p))
		}
	}
	if r.Identity.InstanceID == "" && o.InstanceIDFile != "" {
		if b, err := os.ReadFile(o.InstanceIDFile); err == nil {
			r.Identity.InstanceID = strings.TrimSpace(string(b))
		}
	}
	if o.MetadataURL != "" {
		mctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		id, err := FromMetadata(mctx, &http.Client{}, o.MetadataURL, r.Identity)
		cancel()
		if err != nil {
			// Only informative: the file is the source of truth.
			r.Reasons = append(r.Reasons, err.Error())
		} else {
			r.Identity = id
		}
	}
	if r.Identity.BootTime.IsZero() {
		r.Identity.BootTime = o.BootTime
	}
	for _, knob := range sortedKeys(o.Dirs) {
		if err := writable(o.Dirs[knob]); err != nil {
			r.Reasons = append(r.Reasons, fmt.Sprintf("%s %s", knob, err))
		}
	}
	if o.MinScratchMB > 0 {
		free, err := freeMB(o.ScratchDir)
		switch {
		case err != nil:
			r.Reasons = append(r.Reasons, "scratch "+err.Error())
		case free < o.MinScratchMB:
			r.Reasons = append(r.Reasons, fmt.Sprintf("scratch %s has %d MB free, below %d MB", o.ScratchDir, free, o.MinScratchMB))
		}
	}
	r.Healthy = len(r.Reasons) == 0
	return r
}

// Ad is the report as machine-ad attributes.
func (r Report) Ad(now time.Time) classad.Ad {
	reason := strings.Join(r.Reasons, "; ")
	if r.Healthy {
		reason = "ok"
	}
	ad := classad.Ad{
		"EHOSInstanceID":   classad.String(r.Identity.InstanceID),
		"EHOSName":         classad.String(r.Identity.Name),
		"EHOSCloud":        classad.String(r.Identity.Cloud),
		"EHOSRegion":       classad.String(r.Identity.Region),
		"EHOSFlavor":       classad.String(r.Identity.Flavor),
		"EHOSPool":         classad.String(r.Identity.Pool),
		"EHOSHealthy":      classad.Bool(r.Healthy),
		"EHOSHealthReason": classad.String(reason),
		"EHOSHookTime":     classad.Int(now.Unix()),
	}
	if r.Retire != nil {
		ad["EHOSRetire"] = classad.Bool(*r.Retire)
	}
	if !r.Identity.BootTime.IsZero() {
		ad["EHOSBootTime"] = classad.Int(r.Identity.BootTime.Unix())
	}
	return ad
}

// KernelBootTime reads btime from /proc/stat (zero when it cannot).
func KernelBootTime(procStat string) time.Time {
	data, err := os.ReadFile(procStat)
	if err != nil {
		return time.Time{}
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "btime" {
			if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return time.Unix(n, 0).UTC()
			}
		}
	}
	return time.Time{}
}

func writable(dir string) error {
	if dir == "" {
		return fmt.Errorf("is not configured")
	}
	f, err := os.CreateTemp(dir, ".ehos-health-*")
	if err != nil {
		return fmt.Errorf("%s is not writable: %s", dir, shortErr(err))
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("%s: cannot remove test file: %s", dir, shortErr(err))
	}
	return nil
}

func freeMB(dir string) (int64, error) {
	if dir == "" {
		return 0, fmt.Errorf("directory is not configured")
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("%s: %s", dir, shortErr(err))
	}
	return int64(st.Bavail) * int64(st.Bsize) / (1 << 20), nil
}

// shortErr drops the operation prefix of path errors; the caller names
// the path.
func shortErr(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return filepath.Clean(pe.Path) + ": " + pe.Err.Error()
	}
	return err.Error()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
