package nodeinfo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultIdentityFile is where cloud-init writes the worker's identity;
// EHOS_IDENTITY_FILE or the hook's --identity flag override it.
const DefaultIdentityFile = "/etc/ehos/identity"

// Identity is who a worker is. The file holds `key=value` lines:
//
//	# written by cloud-init (cloudinit/worker.yaml)
//	instance_name=ehos-w-abc123
//	cloud=mycloud
//	region=RegionOne
//	flavor=m1.large
//	pool=ehos
//	ehos_version=v0.1.0
//
// (the form cloudinit/worker.yaml writes). Optional keys: instance_id (the
// cloud's server id, which a template cannot know before the server exists:
// by default it comes from cloud-init's own /var/lib/cloud/data/instance-id)
// boot_time and retire_identity (the provisioner's identity: retire
// requests from any other are ignored; without it none is obeyed). name is accepted for instance_name. Blank lines and lines starting with '#' are ignored; spaces around key and
// value are trimmed; a value may be wrapped in double quotes (Go/C escapes
// inside); unknown keys are ignored so newer templates work with older hooks.
// boot_time is RFC 3339 or Unix seconds; when absent the kernel's boot time
// is used.
type Identity struct {
	InstanceID string
	Name       string
	Cloud      string
	Region     string
	Flavor     string
	Pool       string
	BootTime   time.Time
	// RetireIdentity is the only identity whose retire requests the hook
	// obeys (the provisioner's, pool.provisioner_identity); empty: none.
	RetireIdentity string
}

// Required are the keys without which the provisioner cannot join the
// worker to its VM.
var Required = []string{"instance_name", "pool"}

// ParseIdentity reads an identity file. It returns what it could read and
// every problem found (a bad line does not hide the good ones).
func ParseIdentity(data []byte) (Identity, []string) {
	var id Identity
	var problems []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		k, v, ok := strings.Cut(text, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok || k == "" {
			problems = append(problems, fmt.Sprintf("line %d is not key=value", line))
			continue
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			u, err := strconv.Unquote(v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("line %d: bad quoted value for %s", line, k))
				continue
			}
			v = u
		}
		switch k {
		case "instance_id":
			id.InstanceID = v
		case "instance_name", "name":
			id.Name = v
			k = "instance_name"
		case "cloud":
			id.Cloud = v
		case "region":
			id.Region = v
		case "flavor":
			id.Flavor = v
		case "pool":
			id.Pool = v
		case "retire_identity":
			id.RetireIdentity = v
		case "boot_time":
			t, err := parseTime(v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("line %d: boot_time %q is neither RFC 3339 nor Unix seconds", line, v))
				continue
			}
			id.BootTime = t
		}
		seen[k] = v != ""
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, "read: "+err.Error())
	}
	for _, k := range Required {
		if !seen[k] {
			problems = append(problems, "no "+k)
		}
	}
	return id, problems
}

func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, fmt.Errorf("bad time")
	}
	return time.Unix(n, 0).UTC(), nil
}

// Format writes an identity in the file's format (used by templates' tests
// and by the local cloud that plays VMs). Values are quoted when they hold
// anything a reader could misread.
func (id Identity) Format() string {
	var b strings.Builder
	put := func(k, v string) {
		if v == "" {
			return
		}
		if strings.ContainsAny(v, "\"\\\n\r\t#=") || strings.TrimSpace(v) != v {
			v = strconv.Quote(v)
		}
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	put("instance_id", id.InstanceID)
	put("instance_name", id.Name)
	put("cloud", id.Cloud)
	put("region", id.Region)
	put("flavor", id.Flavor)
	put("pool", id.Pool)
	put("retire_identity", id.RetireIdentity)
	if !id.BootTime.IsZero() {
		put("boot_time", id.BootTime.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// FromMetadata fills the fields id lacks from an OpenStack metadata service
// (GET base + "/openstack/latest/meta_data.json": uuid, name,
// availability_zone, and the ehos_pool/ehos_name server metadata ehos sets).
// Never used unless the hook is given the service's address.
func FromMetadata(ctx context.Context, client *http.Client, base string, id Identity) (Identity, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/openstack/latest/meta_data.json", nil)
	if err != nil {
		return id, fmt.Errorf("metadata service: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return id, fmt.Errorf("metadata service: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return id, fmt.Errorf("metadata service: HTTP %d", resp.StatusCode)
	}
	var md struct {
		UUID string            `json:"uuid"`
		Name string            `json:"name"`
		Meta map[string]string `json:"meta"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&md); err != nil {
		return id, fmt.Errorf("metadata service: %w", err)
	}
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&id.InstanceID, md.UUID)
	fill(&id.Name, md.Meta["ehos_name"])
	fill(&id.Name, md.Name)
	fill(&id.Pool, md.Meta["ehos_pool"])
	return id, nil
}
