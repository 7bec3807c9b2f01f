package nodeinfo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ehos-project/ehos/lib/classad"
)

func TestIdentityRoundTripHostile(t *testing.T) {
	id := Identity{
		InstanceID: "6f1c0c3e", Name: "w\"1\nEHOSHealthy = true", Cloud: `back\slash`, Region: " spaced ",
		Flavor: "m1=large#x", Pool: "ehos", BootTime: time.Unix(1795537867, 0).UTC(),
	}
	got, problems := ParseIdentity([]byte(id.Format()))
	if len(problems) != 0 {
		t.Fatalf("problems: %v\n%s", problems, id.Format())
	}
	if diff := cmp.Diff(id, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestParseIdentityProblems(t *testing.T) {
	in := "# comment\n\nname = w1\nnonsense\nboot_time=yesterday\ninstance_id=\"unterminated\nfuture_key=1\npool=1\n"
	id, problems := ParseIdentity([]byte(in))
	if id.Name != "w1" || id.Pool != "1" || id.InstanceID != `"unterminated` {
		t.Errorf("good lines lost: %+v", id)
	}
	want := []string{"line 4 is not key=value", `line 5: boot_time "yesterday" is neither RFC 3339 nor Unix seconds`}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	// The unterminated quote is kept as a literal value (it does not end in
	// a quote), which is the least surprising reading.
	if _, p := ParseIdentity([]byte("instance_id=\"a\\q\"\nname=n\npool=p\n")); len(p) != 1 {
		t.Errorf("bad escape not reported: %v", p)
	}
}

func checkAd(t *testing.T, r Report) classad.Ad {
	t.Helper()
	text, err := r.Ad(time.Unix(1795538000, 0)).MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	ads, err := classad.ParseLong(text)
	if err != nil || len(ads) != 1 {
		t.Fatalf("hook output is not one valid ad: %v\n%s", err, text)
	}
	return ads[0]
}

func TestCheckHealthy(t *testing.T) {
	dir := t.TempDir()
	idf := filepath.Join(dir, "identity")
	// What cloudinit/worker.yaml writes; the id comes from cloud-init's file.
	os.WriteFile(idf, []byte("instance_name=w1\ncloud=c\nregion=r\nflavor=f\npool=p\nehos_version=v1\n"), 0o644)
	iidf := filepath.Join(dir, "instance-id")
	os.WriteFile(iidf, []byte("i-1\n"), 0o644)
	r := Check(context.Background(), Options{
		IdentityFile: idf, InstanceIDFile: iidf, Dirs: map[string]string{"EXECUTE": dir, "LOG": dir, "SPOOL": dir},
		ScratchDir: dir, MinScratchMB: 1, BootTime: time.Unix(1795530000, 0),
	})
	ad := checkAd(t, r)
	if !ad.GetBool("EHOSHealthy", false) || ad.GetString("EHOSHealthReason") != "ok" || ad.GetString("EHOSName") != "w1" || ad.GetString("EHOSInstanceID") != "i-1" ||
		ad.GetInt("EHOSBootTime", 0) != 1795530000 || ad.GetString("EHOSFlavor") != "f" {
		t.Errorf("ad: %v (reasons %v)", ad, r.Reasons)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".ehos-health-*")); len(left) != 0 {
		t.Errorf("test files left: %v", left)
	}
}

func TestCheckUnhealthyNeverFails(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, nil, 0o644)
	r := Check(context.Background(), Options{
		IdentityFile: filepath.Join(dir, "missing"),
		Dirs:         map[string]string{"EXECUTE": notDir, "LOG": "", "SPOOL": filepath.Join(dir, "nope")},
		ScratchDir:   dir, MinScratchMB: 1 << 40,
	})
	ad := checkAd(t, r)
	if ad.GetBool("EHOSHealthy", true) {
		t.Fatal("healthy without identity")
	}
	reason := ad.GetString("EHOSHealthReason")
	for _, want := range []string{"identity: ", "missing", "EXECUTE", "LOG is not configured", "SPOOL", "scratch"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason lacks %q: %s", want, reason)
		}
	}
	if _, ok := ad.Get("EHOSBootTime"); ok {
		t.Error("boot time invented")
	}
}

func TestMetadataFillsGaps(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/openstack/latest/meta_data.json" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"uuid":"u-1","name":"vm-name","meta":{"ehos_pool":"p","ehos_name":"w9"}}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	idf := filepath.Join(dir, "identity")
	os.WriteFile(idf, []byte("cloud=c\n"), 0o644)
	r := Check(context.Background(), Options{IdentityFile: idf, MetadataURL: srv.URL})
	if r.Identity.InstanceID != "u-1" || r.Identity.Name != "w9" || r.Identity.Pool != "p" || r.Identity.Cloud != "c" {
		t.Errorf("identity: %+v", r.Identity)
	}
	// The file's problems still count: the file is the source of truth.
	if r.Healthy {
		t.Error("healthy with an incomplete identity file")
	}
	r = Check(context.Background(), Options{IdentityFile: idf, MetadataURL: srv.URL + "/broken"})
	if !strings.Contains(strings.Join(r.Reasons, ";"), "HTTP 404") {
		t.Errorf("metadata failure not reported: %v", r.Reasons)
	}
}

func TestKernelBootTime(t *testing.T) {
	f := filepath.Join(t.TempDir(), "stat")
	os.WriteFile(f, []byte("cpu 1 2 3\nbtime 1795530000\n"), 0o644)
	if got := KernelBootTime(f); got.Unix() != 1795530000 {
		t.Errorf("got %v", got)
	}
	if !KernelBootTime("/nonexistent").IsZero() {
		t.Error("invented boot time")
	}
}

func TestRetireRequestAndFlag(t *testing.T) {
	ad := RetireRequest("p1", `w"1`, time.Hour)
	if ad.GetString("MyType") != RetireAdType || ad.GetString("EHOSName") != `w"1` || ad.GetInt("ClassAdLifetime", 0) != 3600 {
		t.Errorf("request %v", ad)
	}
	if c := RetireConstraint("p1", `w"1`, "ehos@d"); !strings.Contains(c, `EHOSName == "w\"1"`) || !strings.Contains(c, `AuthenticatedIdentity == "ehos@d"`) {
		t.Errorf("constraint does not quote: %s", c)
	}
	yes := true
	if got := (Report{Retire: &yes}).Ad(time.Unix(0, 0)); !got.GetBool("EHOSRetire", false) {
		t.Error("EHOSRetire not published")
	}
	if _, ok := (Report{}).Ad(time.Unix(0, 0)).Get("EHOSRetire"); ok {
		t.Error("EHOSRetire published although the collector could not be asked")
	}
}
