package localcloud

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ehos-project/ehos/integration/vmrun"
)

const (
	maxMicroversion = "2.96"
	maxUserData     = 65535 // Nova's limit on the base64-encoded user_data
	consoleMaxLines = 2000
)

type vm struct {
	id, name   string
	region     *region
	flavor     *flavor
	image      *image
	metadata   map[string]string
	keyName    string
	secGroups  []string
	networks   []*network
	az         string
	azAsked    bool // the create named an availability zone
	userData   []byte
	status     string
	vmState    string
	taskState  string
	powerState int
	fault      map[string]any
	created    time.Time
	updated    time.Time
	launched   time.Time
	seq        int
	timer      *time.Timer
	stop       func(context.Context) error
	console    []string
	ips        map[string]string // network name → address
	ports      map[string]port   // network name → its port
	deleted    bool
}

type port struct{ ID, MAC string }

// microversion of a compute request as major*1000+minor (2.1 → 2001).
func microversion(r *http.Request) int {
	v := r.Header.Get("X-OpenStack-Nova-API-Version")
	if h := r.Header.Get("OpenStack-API-Version"); h != "" {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(h), "compute "); ok {
			v = strings.TrimSpace(rest)
		}
	}
	if v == "" {
		v = "2.1"
	}
	if v == "latest" {
		v = maxMicroversion
	}
	maj, min, _ := strings.Cut(v, ".")
	a, _ := strconv.Atoi(maj)
	b, _ := strconv.Atoi(min)
	return a*1000 + b
}

var novaErrorKey = map[int]string{
	400: "badRequest", 403: "forbidden", 404: "itemNotFound", 405: "badMethod", 409: "conflictingRequest",
	413: "overLimit", 429: "overLimit", 500: "computeFault", 501: "notImplemented", 503: "serviceUnavailable",
}

func novaError(w http.ResponseWriter, code int, msg string) {
	if code == 401 { // keystonemiddleware answers before Nova does
		keystoneError(w, 401, "Unauthorized", msg)
		return
	}
	key, ok := novaErrorKey[code]
	if !ok {
		key = "computeFault"
	}
	body := map[string]any{"message": msg, "code": code}
	if code == 413 || code == 429 {
		body["retryAfter"] = "0"
	}
	writeJSON(w, code, map[string]any{key: body})
}

func (s *Server) computeRoutes(mux *http.ServeMux) {
	p := "/compute/{region}/v2.1"
	h := func(pattern string, f func(http.ResponseWriter, *http.Request, *region)) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.Handle(method+" "+p+path, s.regional(novaError, f))
	}
	exact(mux, "GET", "/compute/{region}", s.regionalVersions(novaError, func(w http.ResponseWriter, u string) {
		writeJSON(w, 200, map[string]any{"versions": []any{novaVersionDoc(u + "/v2.1/")}})
	}))
	exact(mux, "GET", p, s.regionalVersions(novaError, func(w http.ResponseWriter, u string) {
		writeJSON(w, 200, map[string]any{"version": novaVersionDoc(u + "/")})
	}))
	h("GET /servers", s.listServers)
	h("GET /servers/detail", s.listServers)
	h("POST /servers", s.createServer)
	h("GET /servers/{id}", s.getServer)
	h("DELETE /servers/{id}", s.deleteServer)
	h("POST /servers/{id}/action", s.serverAction)
	h("GET /flavors", s.listFlavors)
	h("GET /flavors/detail", s.listFlavors)
	h("GET /flavors/{id}", s.getFlavor)
	h("GET /flavors/{id}/os-extra_specs", s.flavorExtraSpecs)
	h("GET /flavors/{id}/os-extra_specs/{key}", s.flavorExtraSpecs)
	h("GET /os-keypairs", s.listKeypairs)
	h("GET /os-keypairs/{name}", s.getKeypair)
	h("POST /os-keypairs", s.createKeypair)
	h("DELETE /os-keypairs/{name}", s.deleteKeypair)
	h("GET /limits", s.limits)
	h("GET /extensions", s.extensions)
	h("GET /os-availability-zone", s.availabilityZones)
	h("GET /os-availability-zone/detail", s.availabilityZonesDetail)
	h("GET /os-quota-sets/{project}", s.quotaSet)
	h("GET /os-quota-sets/{project}/detail", s.quotaSet)
	h("GET /os-quota-sets/{project}/defaults", s.quotaSet)
}

// novaVersionDoc is Nova's v2.1 version document with its microversion
// range, as the unversioned root lists it and as the catalog URL itself
// (…/v2.1) answers it, without a token, to keystoneauth's discovery.
func novaVersionDoc(self string) map[string]any {
	return map[string]any{
		"id": "v2.1", "status": "CURRENT", "version": maxMicroversion, "min_version": "2.1",
		"updated":     "2013-07-23T11:33:21Z",
		"links":       []any{map[string]any{"rel": "self", "href": self}},
		"media-types": []any{map[string]any{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}},
	}
}

func (s *Server) serverLinks(rg *region, id string) []any {
	u := s.url + "/compute/" + rg.name + "/v2.1/servers/" + id
	return []any{map[string]any{"rel": "self", "href": u}, map[string]any{"rel": "bookmark", "href": u}}
}

// serverJSON renders a server as Nova does; detail is true in listings
// (servers, servers/detail), false for GET servers/{id}.
//
// A server that failed to boot (Faults.BootError) looks like real Nova's
// NoValidHost server, which conductor buries in cell0 (captured in
// integration/realos/testdata/nova-server-error-*.json): no host, no
// progress, no security groups, and its fault only on GET servers/{id}.
// Listings fill faults from the API's own cell database only, so they
// never carry a cell0 server's fault.
func (s *Server) serverJSON(v *vm, mv int, detail bool) map[string]any {
	rg := v.region
	addrs := map[string]any{}
	if v.status != "BUILD" || v.ips != nil {
		for _, n := range v.networks {
			if ip, ok := v.ips[n.Name]; ok {
				addrs[n.Name] = []any{map[string]any{"version": 4, "addr": ip, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": v.ports[n.Name].MAC}}
			}
		}
	}
	var sgs []any
	for _, g := range v.secGroups {
		sgs = append(sgs, map[string]any{"name": g})
	}
	var taskState, launched any
	if v.taskState != "" {
		taskState = v.taskState
	}
	if !v.launched.IsZero() {
		launched = v.launched.Format("2006-01-02T15:04:05.000000")
	}
	md := v.metadata
	if md == nil {
		md = map[string]string{}
	}
	out := map[string]any{
		"id": v.id, "name": v.name, "status": v.status,
		"tenant_id": rg.cloud.projectID, "user_id": rg.cloud.userID,
		"created": v.created.Format(time.RFC3339), "updated": v.updated.Format(time.RFC3339),
		"hostId": "", "accessIPv4": "", "accessIPv6": "", "progress": 0,
		"image":     map[string]any{"id": v.image.ID, "links": []any{}},
		"flavor":    s.serverFlavorJSON(v, mv),
		"addresses": addrs, "metadata": md,
		"links":                       s.serverLinks(rg, v.id),
		"key_name":                    nilIfEmpty(v.keyName),
		"OS-DCF:diskConfig":           "MANUAL",
		"OS-EXT-AZ:availability_zone": v.az,
		"OS-EXT-STS:vm_state":         v.vmState, "OS-EXT-STS:task_state": taskState, "OS-EXT-STS:power_state": v.powerState,
		"OS-SRV-USG:launched_at": launched, "OS-SRV-USG:terminated_at": nil,
		"os-extended-volumes:volumes_attached": []any{},
		"config_drive":                         "",
	}
	if mv >= 2009 {
		out["locked"] = false
	}
	if mv >= 2019 {
		out["description"] = nil
	}
	if mv >= 2026 {
		out["tags"] = []string{}
	}
	buried := v.fault != nil // never scheduled: see above
	if v.status != "BUILD" && !buried {
		out["hostId"] = "3f1c6b9e0c2d4a8b9e7f6a5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f" // sha224-like, as Nova's
	}
	// Nova reads security groups from the server's ports: a server with no
	// network (networks "none", nova-server-get-2.37.json) or never
	// scheduled has no ports and no "security_groups" key.
	if !buried && len(v.networks) > 0 {
		out["security_groups"] = sgs
	}
	if buried && !v.azAsked { // AZ "" until a host is chosen, unless asked for
		out["OS-EXT-AZ:availability_zone"] = ""
	}
	switch v.status { // Nova's _progress_statuses
	case "ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING":
	default:
		delete(out, "progress")
	}
	if v.fault != nil && !detail {
		out["fault"] = v.fault
	}
	return out
}

// serverFlavorJSON is a server's flavor: since 2.47 a copy of the flavor,
// before it a link.
func (s *Server) serverFlavorJSON(v *vm, mv int) map[string]any {
	if mv >= 2047 {
		return map[string]any{"original_name": v.flavor.Name, "vcpus": v.flavor.VCPUs, "ram": v.flavor.RAMMB,
			"disk": v.flavor.DiskGB, "ephemeral": 0, "swap": 0, "extra_specs": map[string]string{}}
	}
	return map[string]any{"id": v.flavor.ID, "links": []any{map[string]any{"rel": "bookmark", "href": s.url + "/compute/" + v.region.name + "/flavors/" + v.flavor.ID}}}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// sortVMs orders newest first (Nova's default sort: created_at desc) or
// oldest first.
func sortVMs(vms []*vm, newestFirst bool) {
	sort.Slice(vms, func(i, j int) bool {
		if newestFirst {
			return vms[i].seq > vms[j].seq
		}
		return vms[i].seq < vms[j].seq
	})
}

func (s *Server) listServers(w http.ResponseWriter, r *http.Request, rg *region) {
	q := r.URL.Query()
	limit := s.opts.PageSize
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			novaError(w, 400, "Invalid input for query parameters limit. Value: "+l+".")
			return
		}
		limit = min(n, s.opts.PageSize)
	}
	var nameRE *regexp.Regexp
	if n := q.Get("name"); n != "" {
		var err error
		if nameRE, err = regexp.Compile(n); err != nil {
			novaError(w, 400, "Invalid input for query parameters name.")
			return
		}
	}
	status := strings.ToUpper(q.Get("status"))
	var vms []*vm
	for _, v := range rg.servers {
		if nameRE != nil && !nameRE.MatchString(v.name) {
			continue
		}
		if status != "" && v.status != status {
			continue
		}
		vms = append(vms, v)
	}
	sortVMs(vms, true)
	if m := q.Get("marker"); m != "" {
		i := 0
		for ; i < len(vms) && vms[i].id != m; i++ {
		}
		if i == len(vms) {
			novaError(w, 400, "marker ["+m+"] not found")
			return
		}
		vms = vms[i+1:]
	}
	full := len(vms) >= limit
	if len(vms) > limit {
		vms = vms[:limit]
	}
	detail := strings.HasSuffix(r.URL.Path, "/detail")
	mv := microversion(r)
	list := make([]any, 0, len(vms))
	for _, v := range vms {
		if detail {
			list = append(list, s.serverJSON(v, mv, true))
		} else {
			list = append(list, map[string]any{"id": v.id, "name": v.name, "links": s.serverLinks(rg, v.id)})
		}
	}
	body := map[string]any{"servers": list}
	if full && len(vms) > 0 {
		nq := url.Values{}
		for k, vs := range q {
			nq[k] = vs
		}
		nq.Set("limit", strconv.Itoa(limit))
		nq.Set("marker", vms[len(vms)-1].id)
		body["servers_links"] = []any{map[string]any{"rel": "next", "href": s.url + r.URL.Path + "?" + nq.Encode()}}
	}
	writeJSON(w, 200, body)
}

func (s *Server) findVM(w http.ResponseWriter, r *http.Request, rg *region) *vm {
	id := r.PathValue("id")
	v, ok := rg.servers[id]
	if !ok {
		novaError(w, 404, "Instance "+id+" could not be found.")
		return nil
	}
	return v
}

func (s *Server) getServer(w http.ResponseWriter, r *http.Request, rg *region) {
	if v := s.findVM(w, r, rg); v != nil {
		writeJSON(w, 200, map[string]any{"server": s.serverJSON(v, microversion(r), false)})
	}
}

type createBody struct {
	Server *struct {
		Name           string                  `json:"name"`
		ImageRef       string                  `json:"imageRef"`
		FlavorRef      string                  `json:"flavorRef"`
		UserData       string                  `json:"user_data"`
		Metadata       map[string]any          `json:"metadata"`
		KeyName        string                  `json:"key_name"`
		SecurityGroups []struct{ Name string } `json:"security_groups"`
		Networks       json.RawMessage         `json:"networks"`
		AZ             string                  `json:"availability_zone"`
	} `json:"server"`
}

func (s *Server) createServer(w http.ResponseWriter, r *http.Request, rg *region) {
	var body createBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Server == nil {
		novaError(w, 400, "Invalid input for field/attribute server. Value: None. None is not of type 'object'")
		return
	}
	b := body.Server
	if strings.TrimSpace(b.Name) == "" {
		novaError(w, 400, "Invalid input for field/attribute name. Value: "+b.Name+". ''  does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'")
		return
	}
	fl := rg.flavorByRef(b.FlavorRef)
	if fl == nil {
		novaError(w, 400, "Flavor "+b.FlavorRef+" could not be found.")
		return
	}
	img, msg := rg.activeImage(b.ImageRef)
	if msg != "" {
		novaError(w, 400, msg)
		return
	}
	md, code, msg := serverMetadata(b.Metadata)
	if msg != "" {
		novaError(w, code, msg)
		return
	}
	ud, msg := decodeUserData(b.UserData)
	if msg != "" {
		novaError(w, 400, msg)
		return
	}
	if _, ok := rg.keypairs[b.KeyName]; b.KeyName != "" && !ok {
		novaError(w, 400, "Invalid key_name provided.")
		return
	}
	groups, msg := rg.securityGroupNames(b.SecurityGroups)
	if msg != "" {
		novaError(w, 400, msg)
		return
	}
	nets, msg := rg.parseNetworks(b.Networks, microversion(r))
	if msg != "" {
		novaError(w, 400, msg)
		return
	}
	az := b.AZ
	if az == "" {
		az = "nova"
	}
	if !slices.Contains(rg.azs, az) {
		novaError(w, 400, "The requested availability zone is not available")
		return
	}
	if code, msg := rg.overQuota(fl); msg != "" {
		novaError(w, code, msg)
		return
	}
	v := s.newVM(rg, b.Name, fl, img, md)
	v.keyName, v.secGroups, v.networks, v.az, v.userData = b.KeyName, groups, nets, az, ud
	v.azAsked = b.AZ != ""
	v.consolef("[    0.000000] Linux version 6.1.0-ehos-local (ehos@localcloud)")
	v.consolef("cloud-init: instance %s (%s) in %s, flavor %s", v.id, v.name, rg.name, fl.Name)
	s.scheduleBoot(v)
	w.Header().Set("Location", s.url+"/compute/"+rg.name+"/v2.1/servers/"+v.id)
	writeJSON(w, 202, map[string]any{"server": map[string]any{
		"id": v.id, "links": s.serverLinks(rg, v.id), "OS-DCF:diskConfig": "MANUAL",
		"security_groups": []any{map[string]any{"name": groups[0]}}, "adminPass": "local-" + v.id[:8],
	}})
}

// activeImage finds the image a create names; a message in Nova's words
// when there is none or it is not active.
func (rg *region) activeImage(ref string) (*image, string) {
	var img *image
	for _, i := range rg.images {
		if i.ID == ref {
			img = i
		}
	}
	if img == nil {
		return nil, "Can not find requested image" // Nova's words (Zed)
	}
	if img.Status != "active" {
		return nil, "Image " + ref + " is not active."
	}
	return img, ""
}

// serverMetadata checks a create's metadata as Nova does: string values,
// keys and values of 255 bytes at most, 128 items at most.
func serverMetadata(in map[string]any) (map[string]string, int, string) {
	md := map[string]string{}
	for k, v := range in {
		sv, ok := v.(string)
		if !ok {
			return nil, 400, fmt.Sprintf("Invalid input for field/attribute metadata. Value: %v is not of type 'string'", v)
		}
		if len(k) > 255 || len(sv) > 255 {
			return nil, 400, "Invalid input for field/attribute metadata. Value: " + k + ". too long"
		}
		md[k] = sv
	}
	if len(md) > 128 {
		return nil, 403, "Quota exceeded for metadata_items: Requested 129, but already used 0 of 128 metadata_items"
	}
	return md, 0, ""
}

// decodeUserData decodes a create's base64 user_data (Nova's limit applies
// to the encoded form).
func decodeUserData(b64 string) ([]byte, string) {
	if b64 == "" {
		return nil, ""
	}
	if len(b64) > maxUserData {
		return nil, fmt.Sprintf("User data too large. User data must be no larger than %d bytes once base64 encoded. Your data is %d bytes", maxUserData, len(b64))
	}
	ud, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, "User data needs to be valid base 64."
	}
	return ud, ""
}

// securityGroupNames resolves a create's security groups (by name or ID)
// to names; none is "default".
func (rg *region) securityGroupNames(in []struct{ Name string }) ([]string, string) {
	var groups []string
	for _, g := range in {
		var found *secGroup
		for _, sg := range rg.secgrps {
			if sg.Name == g.Name || sg.ID == g.Name {
				found = sg
			}
		}
		if found == nil {
			return nil, "Security group " + g.Name + " not found."
		}
		groups = append(groups, found.Name)
	}
	if len(groups) == 0 {
		groups = []string{"default"}
	}
	return groups, ""
}

// overQuota is the status and Nova's message when one more server of
// flavor fl exceeds the region's quota ("" when it fits).
func (rg *region) overQuota(fl *flavor) (int, string) {
	inst, cores, ram := rg.usage()
	q := rg.quota
	for _, c := range []struct {
		res            string
		req, used, max int
	}{{"instances", 1, inst, q.Instances}, {"cores", fl.VCPUs, cores, q.Cores}, {"ram", fl.RAMMB, ram, q.RAMMB}} {
		if c.max < 0 || c.used+c.req <= c.max {
			continue
		}
		status := rg.faults.QuotaStatus
		if status == 0 {
			status = 403
		}
		return status, fmt.Sprintf("Quota exceeded for %s: Requested %d, but already used %d of %d %s", c.res, c.req, c.used, c.max, c.res)
	}
	return 0, ""
}

func (rg *region) parseNetworks(raw json.RawMessage, mv int) ([]*network, string) {
	if len(raw) == 0 || string(raw) == "null" {
		if mv >= 2037 {
			return nil, "Invalid input for field/attribute server. Value: {...}. 'networks' is a required property" // Nova prints the whole body
		}
		return rg.networks[:1], ""
	}
	var word string
	if json.Unmarshal(raw, &word) == nil {
		switch word {
		case "none":
			return nil, ""
		case "auto":
			return rg.networks[:1], ""
		}
		return nil, "Invalid input for field/attribute networks. Value: " + word + "."
	}
	var list []struct {
		UUID string `json:"uuid"`
		Port string `json:"port"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, "Invalid input for field/attribute networks."
	}
	var out []*network
	for _, n := range list {
		var found *network
		for _, nw := range rg.networks {
			if nw.ID == n.UUID {
				found = nw
			}
		}
		if found == nil {
			return nil, "Network " + n.UUID + " could not be found."
		}
		out = append(out, found)
	}
	return out, ""
}

// newVM registers a server in BUILD; s.mu held.
func (s *Server) newVM(rg *region, name string, fl *flavor, img *image, md map[string]string) *vm {
	s.seq++
	now := time.Now().UTC()
	v := &vm{
		id: newID(), name: name, region: rg, flavor: fl, image: img, metadata: md,
		status: "BUILD", vmState: "building", taskState: "scheduling", az: "nova",
		created: now, updated: now, seq: s.seq, secGroups: []string{"default"},
		networks: rg.networks[:1],
	}
	rg.servers[v.id] = v
	return v
}

func (v *vm) consolef(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	v.console = append(v.console, strings.Split(strings.TrimRight(line, "\n"), "\n")...)
	if len(v.console) > consoleMaxLines {
		v.console = v.console[len(v.console)-consoleMaxLines:]
	}
}

// scheduleBoot arms the BUILD → ACTIVE/ERROR transition; s.mu held.
func (s *Server) scheduleBoot(v *vm) {
	f := v.region.faults
	v.taskState = "spawning"
	if f.StuckBuild {
		v.consolef("nova-compute: spawning is taking a long time")
		return
	}
	delay := s.opts.BootDelay
	if f.BootDelay > 0 {
		delay = time.Duration(f.BootDelay)
	}
	bootErr := f.BootError
	v.timer = time.AfterFunc(delay, func() { s.finishBoot(v, bootErr) })
}

func (s *Server) finishBoot(v *vm, bootErr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v.deleted || s.closed {
		return
	}
	now := time.Now().UTC()
	v.updated, v.taskState = now, ""
	if bootErr != "" {
		v.status, v.vmState, v.powerState = "ERROR", "error", 0
		v.fault = map[string]any{"code": 500, "message": bootErr, "created": now.Format(time.RFC3339)}
		v.consolef("nova-compute: instance failed to spawn: %s", bootErr)
		return
	}
	v.status, v.vmState, v.powerState, v.launched = "ACTIVE", "active", 1, now
	v.ips, v.ports = map[string]string{}, map[string]port{}
	for _, n := range v.networks {
		v.region.nextIP++
		v.ips[n.Name] = fmt.Sprintf("%s.%d", n.Subnet, 10+v.region.nextIP%240)
		id := newID()
		v.ports[n.Name] = port{ID: id, MAC: "fa:16:3e:" + id[0:2] + ":" + id[2:4] + ":" + id[4:6]}
	}
	v.consolef("cloud-init: booted, %d bytes of user-data", len(v.userData))
	// cloud-init prints final_message when it is done; image builds wait for
	// it (cloudinit/base.yaml's EHOS-BASE-READY). Nothing runs here, so it is
	// printed at once.
	if cc, err := vmrun.Parse(v.userData); err == nil {
		if fm, ok := cc.Rest["final_message"].(string); ok && fm != "" {
			up := fmt.Sprintf("%.2f", now.Sub(v.created).Seconds())
			v.consolef("%s", strings.NewReplacer("$UPTIME", up, "$VERSION", "ehos-local", "$TIMESTAMP", now.Format(time.RFC1123Z), "$DATASOURCE", "OpenStack").Replace(fm))
		}
	}
	if s.opts.Runner != nil {
		s.startRunner(v)
	}
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (s *Server) deleteServer(w http.ResponseWriter, r *http.Request, rg *region) {
	v := s.findVM(w, r, rg)
	if v == nil {
		return
	}
	if st := rg.faults.DeleteStatus; st != 0 {
		novaError(w, st, fmt.Sprintf("Cannot 'delete' instance %s while it is in task_state deleting", v.id))
		return
	}
	v.deleted = true
	delete(rg.servers, v.id)
	if v.timer != nil {
		v.timer.Stop()
	}
	if v.stop != nil {
		stop := v.stop
		v.stop = nil
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.stopVM(v, stop) }()
	}
	w.WriteHeader(204)
}

func (s *Server) serverAction(w http.ResponseWriter, r *http.Request, rg *region) {
	v := s.findVM(w, r, rg)
	if v == nil {
		return
	}
	var body map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body) != 1 {
		novaError(w, 400, "Malformed request body")
		return
	}
	for action, arg := range body {
		switch action {
		case "os-getConsoleOutput":
			var a struct {
				Length any `json:"length"`
			}
			_ = json.Unmarshal(arg, &a)
			n := -1
			switch l := a.Length.(type) {
			case float64:
				n = int(l)
			case string:
				if k, err := strconv.Atoi(l); err == nil {
					n = k
				}
			}
			lines := v.console
			if n >= 0 && n < len(lines) {
				lines = lines[len(lines)-n:]
			}
			writeJSON(w, 200, map[string]any{"output": strings.Join(lines, "\n") + "\n"})
		case "os-stop":
			if v.status != "ACTIVE" {
				novaError(w, 409, "Cannot 'stop' instance "+v.id+" while it is in vm_state "+v.vmState)
				return
			}
			v.status, v.vmState, v.powerState = "SHUTOFF", "stopped", 4
			v.consolef("reboot: Power down")
			w.WriteHeader(202)
		case "os-start":
			if v.status != "SHUTOFF" {
				novaError(w, 409, "Cannot 'start' instance "+v.id+" while it is in vm_state "+v.vmState)
				return
			}
			v.status, v.vmState, v.powerState = "ACTIVE", "active", 1
			w.WriteHeader(202)
		case "createImage":
			var a struct {
				Name     string            `json:"name"`
				Metadata map[string]string `json:"metadata"`
			}
			if err := json.Unmarshal(arg, &a); err != nil || a.Name == "" {
				novaError(w, 400, "Invalid input for field/attribute name.")
				return
			}
			if v.status != "ACTIVE" && v.status != "SHUTOFF" {
				novaError(w, 409, "Cannot 'createImage' instance "+v.id+" while it is in vm_state "+v.vmState)
				return
			}
			img := &image{ID: newID(), Name: a.Name, Status: "queued", Created: time.Now().UTC(), ServerID: v.id, MinDisk: v.flavor.DiskGB}
			rg.images = append(rg.images, img)
			delay := s.opts.BootDelay
			if d := rg.faults.BootDelay; d > 0 {
				delay = time.Duration(d)
			}
			time.AfterFunc(delay/2, func() { s.setImageStatus(img, "saving") })
			time.AfterFunc(delay, func() { s.setImageStatus(img, "active") })
			w.Header().Set("Location", s.url+"/image/"+rg.name+"/v2/images/"+img.ID)
			if microversion(r) >= 2045 {
				writeJSON(w, 202, map[string]any{"image_id": img.ID})
			} else {
				w.WriteHeader(202)
			}
		default:
			novaError(w, 400, "There is no such action: "+action)
		}
	}
}

// setImageStatus moves a snapshot forward: queued, saving, active. The two
// timers that drive it may fire in either order on a loaded machine; a late
// "saving" after "active" left the image saving for ever (seen as
// TestChecksAndImages timing out under load).
func (s *Server) setImageStatus(img *image, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	step := map[string]int{"queued": 0, "saving": 1, "active": 2}
	if cur, ok := step[img.Status]; ok && step[status] > cur {
		img.Status = status
	}
}
