package demand

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

func offer(c, r, f string, cpus, mem int, cost float64) scale.Offer {
	return scale.Offer{OfferKey: scale.OfferKey{Loc: cloud.Location{Cloud: c, Region: r}, Flavor: f},
		Size: scale.Resources{Cpus: cpus, MemoryMB: mem, DiskMB: 20000}, Cost: cost}
}

func TestFlavorAdsAreValidText(t *testing.T) {
	offers := []scale.Offer{offer("c1", "r1", "m1.small", 2, 4000, 1), offer(`evil"cloud`, "r\n1", `f\"x`, 8, 32000, 4.5)}
	ads := FlavorAds(offers, "pool", 7)
	text, err := classad.MarshalAds(ads)
	if err != nil {
		t.Fatal(err)
	}
	back, err := classad.ParseLong(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if len(back) != 2 {
		t.Fatalf("%d ads back", len(back))
	}
	b := back[1]
	// What HTCondor keeps of them (classad.Stored): one attribute each,
	// nothing injected.
	if b.GetString(AttrCloud) != `evil"cloud` || b.GetString(AttrRegion) != classad.Stored("r\n1") || b.GetString(AttrFlavor) != classad.Stored(`f\"x`) {
		t.Errorf("hostile strings did not survive: %q %q %q", b.GetString(AttrCloud), b.GetString(AttrRegion), b.GetString(AttrFlavor))
	}
	for _, want := range []string{"Offline", "WantAdRevaluate", "EHOSOffer"} {
		if !b.GetBool(want, false) {
			t.Errorf("%s not true", want)
		}
	}
	if b.GetInt("Disk", 0) != 20000*1024 || b.GetInt("UpdateSequenceNumber", 0) != 7 || b.GetInt("GhostMultiplier", 0) != GhostMultiplier {
		t.Errorf("Disk/seq/ghost wrong: %v", b)
	}
	if b.GetString("Name") != classad.Stored(FlavorAdName("pool", offers[1].OfferKey)) {
		t.Errorf("Name %q", b.GetString("Name"))
	}
}

func TestNormalizeAddress(t *testing.T) {
	for in, want := range map[string]string{
		"<127.0.0.1:41889?addrs=127.0.0.1-41889&alias=vm>":                     "127.0.0.1:41889",
		"<10.0.0.5:9618?addrs=10.0.0.5-9618&alias=cm&noUDP&sock=schedd_12_34>": "10.0.0.5:9618?sock=schedd_12_34",
		"127.0.0.1:9618": "127.0.0.1:9618",
		"":               "",
	} {
		if got := NormalizeAddress(in); got != want {
			t.Errorf("NormalizeAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

// testdata/flavors.json was captured from a 23.9.6 negotiator: two old
// hand-made ads (no cloud/region; "large" left over from an earlier cycle
// and naming autocluster 1, which the schedd has since reused for a job
// pinned to "small") and two FlavorAds ads.
func TestEligibilityFromCapturedVerdict(t *testing.T) {
	data, err := os.ReadFile("testdata/flavors.json")
	if err != nil {
		t.Fatal(err)
	}
	ads, err := classad.ParseJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1795538160, 0)
	got, err := Eligibility(ads, now, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	small := scale.OfferKey{Loc: cloud.Location{Cloud: "c1", Region: "r1"}, Flavor: "small"}
	large := scale.OfferKey{Loc: cloud.Location{Cloud: "c1", Region: "r1"}, Flavor: "large"}
	bare := scale.OfferKey{Flavor: "small"}
	want := map[AutoclusterKey][]scale.OfferKey{
		{Schedd: "127.0.0.1:41889", ID: 1}: {bare, small},        // pinned to small: never large
		{Schedd: "127.0.0.1:41889", ID: 2}: {bare, small, large}, // cheapest first
		// autocluster 3 (Requirements = HasGPU) is nowhere
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("eligibility (-want +got):\n%s", diff)
	}
	// Long after the cycle every verdict is stale.
	if old, _ := Eligibility(ads, now.Add(time.Hour), 20*time.Second); len(old) != 0 {
		t.Errorf("stale verdicts used: %v", old)
	}
	// A broken list is named, the rest still read.
	ads = append(ads, classad.Ad{AttrFlavor: classad.String("x"), AttrLastMatc: classad.Int(1795538153), AttrMatches: classad.Expr("{ [ oops")})
	if _, err := Eligibility(ads, now, 20*time.Second); err == nil || !strings.Contains(err.Error(), "x") {
		t.Errorf("broken OfflineMatches not reported: %v", err)
	}
}

func TestParseScheddAnswers(t *testing.T) {
	ac, _ := os.ReadFile("testdata/autocluster.txt")
	busy, _ := os.ReadFile("testdata/notidle.txt")
	qd, _ := os.ReadFile("testdata/qdates.txt")
	shapes, skipped := ParseAutoclusters(ac)
	if len(skipped) > 0 {
		t.Fatal(skipped)
	}
	notIdle, err := ParseNotIdle(busy)
	if err != nil {
		t.Fatal(err)
	}
	qdates, err := ParseQDates(qd)
	if err != nil {
		t.Fatal(err)
	}
	got := Join("ehos@vm", "<127.0.0.1:41889>", shapes, notIdle, qdates)
	q1, q2 := time.Unix(1795537867, 0).UTC(), time.Unix(1795538125, 0).UTC()
	want := []Group{
		{Schedd: "ehos@vm", ScheddAddr: "<127.0.0.1:41889>", Autocluster: 1, Cpus: 1, MemoryMB: 1000, DiskKB: 45, Idle: 2, Oldest: q2, Pin: Pin{Flavor: "small"}},
		{Schedd: "ehos@vm", ScheddAddr: "<127.0.0.1:41889>", Autocluster: 2, Cpus: 1, MemoryMB: 1000, DiskKB: 45, Idle: 3, Oldest: q1},
		{Schedd: "ehos@vm", ScheddAddr: "<127.0.0.1:41889>", Autocluster: 3, Cpus: 4, MemoryMB: 8000, DiskKB: 45, Idle: 1, Oldest: q1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	if _, err := ParseQDates([]byte("1 0 x\n")); err == nil {
		t.Error("bad QDate accepted")
	}
	if _, err := ParseNotIdle([]byte("x\n")); err == nil {
		t.Error("bad autocluster id accepted")
	}
}

func TestDemandAdsRoundTrip(t *testing.T) {
	now := time.Unix(1795538200, 0)
	groups := []Group{
		{Schedd: "s\"1@host", ScheddAddr: "<127.0.0.1:41889?addrs=127.0.0.1-41889>", Autocluster: 4, Cpus: 4, MemoryMB: 8000, DiskKB: 1025, GPUs: 0, Idle: 12, Oldest: time.Unix(1795537000, 0).UTC(), Pin: Pin{Cloud: "c1", Flavor: "small"}},
		{Schedd: "s\"1@host", ScheddAddr: "<127.0.0.1:41889?addrs=127.0.0.1-41889>", Autocluster: 5, Cpus: 1, MemoryMB: 100, Idle: 1, Oldest: time.Unix(1795537100, 0).UTC()},
	}
	ads := DemandAds(groups, "pool", 90*time.Second, now)
	if ads[0].GetInt("ClassAdLifetime", 0) != 90 || ads[0].GetString("MyType") != DemandType {
		t.Errorf("ad: %v", ads[0])
	}
	text, err := classad.MarshalAds(ads)
	if err != nil {
		t.Fatal(err)
	}
	back, err := classad.ParseLong(text)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseDemandAds(back)
	if err != nil {
		t.Fatal(err)
	}
	// Reading an ad back also tells when it was counted.
	for i := range groups {
		groups[i].Reported = now.UTC()
	}
	if diff := cmp.Diff(groups, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}

	small := scale.OfferKey{Loc: cloud.Location{Cloud: "c1", Region: "r1"}, Flavor: "small"}
	otherCloud := scale.OfferKey{Loc: cloud.Location{Cloud: "c2", Region: "r1"}, Flavor: "small"}
	large := scale.OfferKey{Loc: cloud.Location{Cloud: "c1", Region: "r1"}, Flavor: "large"}
	elig := map[AutoclusterKey][]scale.OfferKey{
		{Schedd: "127.0.0.1:41889", ID: 4}: {otherCloud, small, large}, // pins trim it to small
		{Schedd: "127.0.0.1:41889", ID: 9}: {small},
	}
	ds := ToScale(got, elig)
	want := []scale.Demand{
		{Key: "s\"1@host#4", Need: scale.Resources{Cpus: 4, MemoryMB: 8000, DiskMB: 2}, Idle: 12, Oldest: groups[0].Oldest, Reported: now.UTC(), Eligible: []scale.OfferKey{small}},
		{Key: "s\"1@host#5", Need: scale.Resources{Cpus: 1, MemoryMB: 100}, Idle: 1, Oldest: groups[1].Oldest, Reported: now.UTC()},
	}
	if diff := cmp.Diff(want, ds); diff != "" {
		t.Errorf("ToScale (-want +got):\n%s", diff)
	}
	fs, err := FromScale(ds)
	if err != nil {
		t.Fatal(err)
	}
	if fs[0].Schedd != "s\"1@host" || fs[0].Autocluster != 4 || fs[0].DiskKB != 2048 || fs[1].Idle != 1 {
		t.Errorf("FromScale: %+v", fs)
	}
}

func TestParseDemandAdsSkipsBadAds(t *testing.T) {
	ads := []classad.Ad{
		{"Name": classad.String("x"), AttrIdle: classad.Int(3)},
		{AttrSchedd: classad.String("s"), AttrAutocluster: classad.Int(1), AttrIdle: classad.Int(-1)},
		{AttrSchedd: classad.String("s"), AttrAutocluster: classad.Int(2), AttrIdle: classad.Int(1)},
	}
	got, err := ParseDemandAds(ads)
	if err == nil || len(got) != 1 || got[0].Autocluster != 2 || got[0].Cpus != 1 {
		t.Errorf("got %+v, %v", got, err)
	}
}

func TestJobIDsConstraint(t *testing.T) {
	got := JobIDsConstraint([]string{"12.3", "1.0", "7.3"})
	want := `member(ProcId, {0, 3}) && member(strcat(ClusterId, ".", ProcId), {"1.0", "12.3", "7.3"})`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestSplitKey(t *testing.T) {
	for key, want := range map[string]struct {
		s  string
		ac int
		ok bool
	}{"a@b#3": {"a@b", 3, true}, "we#ird@h#12": {"we#ird@h", 12, true}, "nohash": {}, "#3": {}, "a#-1": {}, "a#x": {}} {
		s, ac, err := SplitKey(key)
		if (err == nil) != want.ok || s != want.s || ac != want.ac {
			t.Errorf("SplitKey(%q) = %q %d %v", key, s, ac, err)
		}
	}
}

// fakeCondor answers the reporter's three queries from strings and records
// what it advertised.
type fakeCondor struct {
	schedd, ac, busy, qdates string
	fail                     map[string]error // by first argument after the tool
	adverts                  []string         // command: names
}

func (f *fakeCondor) Run(_ context.Context, tool string, args ...string) ([]byte, error) {
	switch {
	case tool == "condor_status":
		return []byte(f.schedd), f.fail["status"]
	case tool == "condor_q" && strings.Contains(strings.Join(args, " "), "-autocluster"):
		return []byte(f.ac), f.fail["autocluster"]
	case tool == "condor_q" && strings.Contains(strings.Join(args, " "), "member("):
		return []byte(f.qdates), f.fail["qdates"]
	case tool == "condor_q":
		return []byte(f.busy), f.fail["busy"]
	}
	return nil, errors.New("unexpected tool " + tool)
}

func (f *fakeCondor) Advertise(_ context.Context, cmd string, ads []classad.Ad) error {
	var names []string
	for _, a := range ads {
		if n := a.GetString("Name"); n != "" {
			names = append(names, n)
		} else {
			e, _ := a["Requirements"].ExprText()
			names = append(names, e)
		}
	}
	f.adverts = append(f.adverts, cmd+": "+strings.Join(names, ", "))
	return f.fail["advertise"]
}

func TestReporterCycle(t *testing.T) {
	ac, _ := os.ReadFile("testdata/autocluster.txt")
	busy, _ := os.ReadFile("testdata/notidle.txt")
	qd, _ := os.ReadFile("testdata/qdates.txt")
	f := &fakeCondor{
		schedd: `[{"Name": "ehos@vm", "MyAddress": "<127.0.0.1:41889?addrs=127.0.0.1-41889&alias=vm>"}]`,
		ac:     string(ac), busy: string(busy), qdates: string(qd), fail: map[string]error{},
	}
	r := &Reporter{Condor: f, Pool: "p", Lifetime: time.Minute, Log: zerolog.Nop()}
	ctx := context.Background()
	now := time.Unix(1795538200, 0)

	st, err := r.Cycle(ctx, now)
	if err != nil || st.Groups != 3 || st.Idle != 6 || st.BytesRead == 0 {
		t.Fatalf("first cycle: %+v %v", st, err)
	}
	wantAds := []string{
		"UPDATE_AD_GENERIC: ehos@vm#1, ehos@vm#2, ehos@vm#3",
		`INVALIDATE_ADS_GENERIC: MyType == "EHOSDemand" && EHOSSchedd == "ehos@vm" && Name != "ehos@vm#1" && Name != "ehos@vm#2" && Name != "ehos@vm#3"`,
	}
	if diff := cmp.Diff(wantAds, f.adverts); diff != "" {
		t.Errorf("first cycle adverts (-want +got):\n%s", diff)
	}

	// Unchanged and fresh: nothing sent; at half the lifetime: refreshed.
	f.adverts = nil
	if st, err := r.Cycle(ctx, now.Add(10*time.Second)); err != nil || st.Advertised != 0 || len(f.adverts) != 0 {
		t.Fatalf("unchanged cycle sent %v (%+v, %v)", f.adverts, st, err)
	}
	if st, err := r.Cycle(ctx, now.Add(30*time.Second)); err != nil || st.Advertised != 3 {
		t.Fatalf("refresh at half lifetime: %+v, %v", st, err)
	}

	// A failed query advertises and withdraws nothing.
	f.adverts = nil
	f.fail["busy"] = errors.New("schedd down")
	if _, err := r.Cycle(ctx, now); err == nil || len(f.adverts) != 0 {
		t.Fatalf("failed query: err %v, adverts %v", err, f.adverts)
	}
	delete(f.fail, "busy")

	// Autocluster 2's jobs start: only its ad is withdrawn.
	f.busy = "2\n2\n2\n2\n"
	if st, err := r.Cycle(ctx, now); err != nil || st.Withdrawn != 1 {
		t.Fatalf("third cycle: %+v %v", st, err)
	}
	wantAds = []string{
		"UPDATE_AD_GENERIC: ehos@vm#1, ehos@vm#3",
		`INVALIDATE_ADS_GENERIC: MyType == "EHOSDemand" && EHOSSchedd == "ehos@vm" && Name != "ehos@vm#1" && Name != "ehos@vm#3"`,
	}
	if diff := cmp.Diff(wantAds, f.adverts); diff != "" {
		t.Errorf("third cycle adverts (-want +got):\n%s", diff)
	}

	// An empty queue (HTCondor prints nothing at all): everything withdrawn.
	f.adverts, f.ac = nil, ""
	if st, err := r.Cycle(ctx, now); err != nil || st.Withdrawn != 2 || st.Groups != 0 {
		t.Fatalf("empty queue: %+v %v", st, err)
	}
	if diff := cmp.Diff([]string{`INVALIDATE_ADS_GENERIC: MyType == "EHOSDemand" && EHOSSchedd == "ehos@vm"`}, f.adverts); diff != "" {
		t.Errorf("empty queue adverts (-want +got):\n%s", diff)
	}
	// And quiet after that.
	f.adverts = nil
	if _, err := r.Cycle(ctx, now); err != nil || len(f.adverts) != 0 {
		t.Errorf("idle reporter advertised %v (%v)", f.adverts, err)
	}

	// Several schedds and no name: refuse rather than guess.
	r2 := &Reporter{Condor: &fakeCondor{schedd: `[{"Name":"a"},{"Name":"b"}]`}, Log: zerolog.Nop()}
	if _, err := r2.Cycle(ctx, now); err == nil {
		t.Error("several schedds accepted")
	}
}

func TestScheddOfKey(t *testing.T) {
	for key, want := range map[string]string{
		Group{Schedd: "alice@sub1.example.org", Autocluster: 12}.Key(): "alice@sub1.example.org",
		"sub#2#3": "sub#2", "no-hash": "",
	} {
		if got := ScheddOfKey(key); got != want {
			t.Errorf("ScheddOfKey(%q) = %q, want %q", key, got, want)
		}
	}
}

// acLine is one line of `condor_q -autocluster -af:tV` as HTCondor 23
// prints it (seen on the integration pool): pins as old-syntax literals,
// only double quotes escaped, tabs and control bytes raw.
func acLine(id, jobs int, first string, cloud, region, flavor string) string {
	return strings.Join([]string{itoa(id), itoa(jobs), `"` + first + `"`, "1", "1000", "45", "undefined", cloud, region, flavor}, "\t")
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestParseAutoclustersSkipsOnlyTheBadLine(t *testing.T) {
	huge := strings.Repeat("x", 100<<10)
	out := strings.Join([]string{
		acLine(1, 2, "1.0 1.1", "undefined", "undefined", "undefined"),
		acLine(2, 1, "2.0", "undefined", "\"a\tb\"", "undefined"),            // a tab inside EHOSRegion
		acLine(3, 1, "3.0", "undefined", `"trail\"`, "undefined"),            // EHOSRegion = trail\
		acLine(4, 1, "4.0", `"q\"uote"`, "undefined", `"c:\\x\\"`),           // quotes and backslashes
		acLine(5, 1, "5.0", "undefined", "undefined", `"`+huge+`"`),          // 100 kB
		acLine(6, 1, "6.0", "\"\ttab first\"", "undefined", "undefined"),     // a tab inside EHOSCloud
		"x\t1\t\"7.0\"\t1\t1\t1\t1\tundefined\tundefined\tundefined",         // no id
		acLine(8, 3, "8.0", "undefined", "undefined", `"small"`),             // after the bad ones
		acLine(9, 1, "9.0", "undefined", `"two "quotes" bare"`, "undefined"), // not one literal
		"10\t2",
	}, "\n") + "\n"
	shapes, skipped := ParseAutoclusters([]byte(out))

	want := map[int]Pin{1: {}, 3: {Region: `trail\`}, 4: {Cloud: `q"uote`, Flavor: `c:\\x\\`}, 5: {Flavor: huge}, 8: {Flavor: "small"}}
	got := map[int]Pin{}
	for id, s := range shapes {
		got[id] = s.Pin
		if s.Jobs < 1 || s.FirstJob != itoa(id)+".0" {
			t.Errorf("autocluster %d read as %+v", id, s)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kept autoclusters and their pins (-want +got):\n%s", diff)
	}
	type skip struct {
		Line, Autocluster int
		Attr              string
	}
	var gotSkip []skip
	for _, s := range skipped {
		gotSkip = append(gotSkip, skip{s.Line, s.Autocluster, s.Attr})
		if len(s.Error()) > 300 {
			t.Errorf("skip message not clipped: %d bytes", len(s.Error()))
		}
	}
	wantSkip := []skip{{2, 2, AttrRegion}, {6, 6, AttrCloud}, {7, -1, "AutoClusterId"}, {9, 9, AttrRegion}, {10, 10, ""}}
	if diff := cmp.Diff(wantSkip, gotSkip); diff != "" {
		t.Errorf("skipped lines (-want +got):\n%s", diff)
	}
	if msg := skipped[0].Error(); !strings.Contains(msg, "line 2 (autocluster 2) EHOSRegion") || !strings.Contains(msg, "tab") {
		t.Errorf("skip message %q does not name line, autocluster, attribute and cause", msg)
	}
}

// TestReporterCycleSurvivesABadLine: one job's tab in +EHOSRegion costs its
// own autocluster, with a warning naming the schedd, the autocluster and
// the attribute; every other autocluster of the schedd is advertised.
func TestReporterCycleSurvivesABadLine(t *testing.T) {
	ac := acLine(1, 2, "1.0 1.1", "undefined", "undefined", "undefined") + "\n" +
		acLine(2, 1, "2.0", "undefined", "\"Region\tOne\"", "undefined") + "\n" +
		acLine(3, 1, "3.0", "undefined", "undefined", `"small"`) + "\n"
	f := &fakeCondor{schedd: `[{"Name": "ehos@vm", "MyAddress": "<127.0.0.1:41889>"}]`, ac: ac,
		qdates: "1 0 1795537867\n3 0 1795537867\n", fail: map[string]error{}}
	var logs strings.Builder
	r := &Reporter{Condor: f, Pool: "p", Lifetime: time.Minute, Log: zerolog.New(&logs)}
	st, err := r.Cycle(context.Background(), time.Unix(1795538200, 0))
	if err != nil {
		t.Fatalf("a bad line failed the whole cycle: %v", err)
	}
	if st.Groups != 2 || st.Idle != 3 || st.Skipped != 1 {
		t.Errorf("stats %+v, want 2 groups, 3 idle, 1 skipped", st)
	}
	if want := "UPDATE_AD_GENERIC: ehos@vm#1, ehos@vm#3"; len(f.adverts) == 0 || f.adverts[0] != want {
		t.Errorf("adverts %v, want first %q", f.adverts, want)
	}
	for _, w := range []string{`"level":"warn"`, `"schedd":"ehos@vm"`, `"autocluster":2`, `"attribute":"EHOSRegion"`} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("warning lacks %s: %s", w, logs.String())
		}
	}
}
