package localcloud

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// CloudInitRunner hands cloud-init the server's user-data unchanged as a
// NoCloud seed, with the image settings beside it, boots the VM directory
// and removes it when the server goes.
func TestCloudInitRunnerSeedsNoCloud(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ud := []byte("#cloud-config\nruncmd:\n  - [systemctl, restart, condor]\n")
	var booted, stopped string
	r := &CloudInitRunner{
		Dir:         dir,
		ExtraConfig: "UPDATE_INTERVAL = 5",
		Boot: func(ctx context.Context, vmDir, hostname, netNS string, console io.Writer) (Stopper, error) {
			booted = vmDir + " " + hostname
			for p, want := range map[string]string{
				"var/lib/cloud/seed/nocloud/user-data":         string(ud),
				"var/lib/cloud/seed/nocloud/meta-data":         "instance-id: 0123456789abcdef\nlocal-hostname: ehos-demo-0001\n",
				"etc/cloud/cloud.cfg.d/90-ehos-localcloud.cfg": ImageCloudCfg,
			} {
				b, err := os.ReadFile(filepath.Join(vmDir, "upper", p))
				if err != nil || string(b) != want {
					t.Errorf("%s = %q (%v), want %q", p, b, err, want)
				}
			}
			b, _ := os.ReadFile(filepath.Join(vmDir, "upper/etc/condor/config.d/99-ehos-localcloud.conf"))
			if !strings.Contains(string(b), "NETWORK_INTERFACE = 127.0.0.1") || !strings.Contains(string(b), "UPDATE_INTERVAL = 5") {
				t.Errorf("image HTCondor config:\n%s", b)
			}
			return stopFunc(func(context.Context) error { stopped = vmDir; return nil }), nil
		},
	}
	stop, err := r.Start(context.Background(), VMInfo{ID: "0123456789abcdef", Name: "x", Metadata: map[string]string{"ehos_name": "ehos-demo-0001"}}, ud)
	if err != nil {
		t.Fatal(err)
	}
	vmDir := filepath.Join(dir, "ehos-demo-0001-01234567")
	if booted != vmDir+" ehos-demo-0001" {
		t.Errorf("booted %q", booted)
	}
	if err := stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if stopped != vmDir {
		t.Errorf("stopped %q", stopped)
	}
	if _, err := os.Stat(vmDir); !os.IsNotExist(err) {
		t.Errorf("VM directory left behind: %v", err)
	}
	if _, err := r.Start(context.Background(), VMInfo{ID: "0123456789abcdef", Name: "y"}, nil); err == nil || !strings.Contains(err.Error(), "no user-data") {
		t.Errorf("empty user-data: %v", err)
	}
}
