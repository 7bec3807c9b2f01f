package localcloud

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Nova's project-wide resources: flavors, key pairs, limits and quotas,
// availability zones and extensions. Servers are in nova.go.

func (s *Server) flavorJSON(rg *region, f *flavor, detail bool) map[string]any {
	u := s.url + "/compute/" + rg.name + "/v2.1/flavors/" + f.ID
	out := map[string]any{"id": f.ID, "name": f.Name, "links": []any{map[string]any{"rel": "self", "href": u}}, "description": nil}
	if detail {
		out["vcpus"], out["ram"], out["disk"] = f.VCPUs, f.RAMMB, f.DiskGB
		out["OS-FLV-EXT-DATA:ephemeral"], out["swap"], out["rxtx_factor"] = 0, 0, 1.0
		out["os-flavor-access:is_public"], out["OS-FLV-DISABLED:disabled"] = true, false
	}
	return out
}

func (s *Server) flavorExtraSpecs(w http.ResponseWriter, r *http.Request, rg *region) {
	id := r.PathValue("id")
	if f := rg.flavorByRef(id); f == nil || f.ID != id { // by id only, as Nova
		novaError(w, 404, "Flavor "+id+" could not be found.")
		return
	}
	if key := r.PathValue("key"); key != "" { // the local flavors have none
		novaError(w, 404, "Flavor "+id+" has no extra specs with key "+key+".")
		return
	}
	writeJSON(w, 200, map[string]any{"extra_specs": map[string]string{}})
}

func (s *Server) listFlavors(w http.ResponseWriter, r *http.Request, rg *region) {
	detail := strings.HasSuffix(r.URL.Path, "/detail")
	var list []any
	for _, f := range rg.flavors {
		list = append(list, s.flavorJSON(rg, f, detail))
	}
	writeJSON(w, 200, map[string]any{"flavors": list})
}

func (s *Server) getFlavor(w http.ResponseWriter, r *http.Request, rg *region) {
	id := r.PathValue("id")
	for _, f := range rg.flavors {
		if f.ID == id {
			writeJSON(w, 200, map[string]any{"flavor": s.flavorJSON(rg, f, true)})
			return
		}
	}
	novaError(w, 404, "Flavor "+id+" could not be found.")
}

func keypairJSON(k *keypair, mv int) map[string]any {
	out := map[string]any{"name": k.Name, "public_key": k.PublicKey, "fingerprint": k.Fingerprint}
	if mv >= 2002 {
		out["type"] = "ssh"
	}
	return out
}

func (s *Server) listKeypairs(w http.ResponseWriter, r *http.Request, rg *region) {
	var names []string
	for n := range rg.keypairs {
		names = append(names, n)
	}
	sort.Strings(names)
	list := []any{}
	for _, n := range names {
		list = append(list, map[string]any{"keypair": keypairJSON(rg.keypairs[n], microversion(r))})
	}
	writeJSON(w, 200, map[string]any{"keypairs": list})
}

func (s *Server) getKeypair(w http.ResponseWriter, r *http.Request, rg *region) {
	k, ok := rg.keypairs[r.PathValue("name")]
	if !ok {
		novaError(w, 404, "Keypair "+r.PathValue("name")+" not found for user "+rg.cloud.userID)
		return
	}
	out := keypairJSON(k, microversion(r))
	out["id"], out["user_id"], out["deleted"] = 1, rg.cloud.userID, false
	out["created_at"] = k.Created.Format("2006-01-02T15:04:05.000000")
	writeJSON(w, 200, map[string]any{"keypair": out})
}

func (s *Server) createKeypair(w http.ResponseWriter, r *http.Request, rg *region) {
	var body struct {
		Keypair struct {
			Name      string `json:"name"`
			PublicKey string `json:"public_key"`
		} `json:"keypair"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Keypair.Name == "" {
		novaError(w, 400, "Invalid input for field/attribute keypair.")
		return
	}
	if body.Keypair.PublicKey == "" {
		novaError(w, 400, "Keypair generation is not supported by the local cloud: give public_key")
		return
	}
	if _, dup := rg.keypairs[body.Keypair.Name]; dup {
		novaError(w, 409, "Key pair '"+body.Keypair.Name+"' already exists.")
		return
	}
	fp, err := sshFingerprint(body.Keypair.PublicKey)
	if err != nil {
		novaError(w, 400, "Keypair data is invalid: failed to generate fingerprint")
		return
	}
	k := &keypair{Name: body.Keypair.Name, PublicKey: body.Keypair.PublicKey, Fingerprint: fp, Created: time.Now().UTC()}
	rg.keypairs[k.Name] = k
	out := keypairJSON(k, microversion(r))
	out["user_id"] = rg.cloud.userID
	writeJSON(w, 200, map[string]any{"keypair": out})
}

// sshFingerprint is Nova's fingerprint of an OpenSSH public key line: the
// MD5 of the decoded key blob in colon-separated hex (ssh-keygen -l -E md5).
// The blob must start with its own key type, as every OpenSSH key does.
func sshFingerprint(line string) (string, error) {
	f := strings.Fields(line)
	if len(f) < 2 {
		return "", fmt.Errorf("not an OpenSSH public key line")
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		return "", err
	}
	if len(blob) < 4 || int(binary.BigEndian.Uint32(blob)) != len(f[0]) || !bytes.HasPrefix(blob[4:], []byte(f[0])) {
		return "", fmt.Errorf("the key blob is not of type %s", f[0])
	}
	sum := md5.Sum(blob)
	hexes := make([]string, len(sum))
	for i, b := range sum {
		hexes[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(hexes, ":"), nil
}

func (s *Server) deleteKeypair(w http.ResponseWriter, r *http.Request, rg *region) {
	if _, ok := rg.keypairs[r.PathValue("name")]; !ok {
		novaError(w, 404, "Keypair "+r.PathValue("name")+" not found for user "+rg.cloud.userID)
		return
	}
	delete(rg.keypairs, r.PathValue("name"))
	w.WriteHeader(202)
}

// novaExtensions are the aliases of Nova's frozen extension list that the
// local cloud serves (openstacksdk reads the list before creating a server).
var novaExtensions = map[string]string{
	"os-availability-zone": "AvailabilityZone", "OS-EXT-AZ": "ExtendedAvailabilityZone",
	"OS-EXT-IPS": "ExtendedIps", "OS-EXT-IPS-MAC": "ExtendedIpsMac", "OS-EXT-STS": "ExtendedStatus",
	"OS-DCF": "DiskConfig", "OS-FLV-EXT-DATA": "FlavorExtraData", "os-flavor-extra-specs": "FlavorExtraSpecs",
	"os-keypairs": "Keypairs", "os-quota-sets": "Quotas", "os-console-output": "ConsoleOutput",
	"os-create-server-ext": "Createserverext", "os-user-data": "UserData", "OS-SRV-USG": "ServerUsage",
}

func (s *Server) extensions(w http.ResponseWriter, r *http.Request, rg *region) {
	var aliases []string
	for a := range novaExtensions {
		aliases = append(aliases, a)
	}
	sort.Strings(aliases)
	list := []any{}
	for _, a := range aliases {
		list = append(list, map[string]any{"alias": a, "name": novaExtensions[a], "links": []any{},
			"namespace": "http://docs.openstack.org/compute/ext/fake_xml", "description": novaExtensions[a] + " support.",
			"updated": "2014-12-03T00:00:00Z"})
	}
	writeJSON(w, 200, map[string]any{"extensions": list})
}

func (s *Server) limits(w http.ResponseWriter, r *http.Request, rg *region) {
	inst, cores, ram := rg.usage()
	q := rg.quota
	abs := map[string]any{
		"maxTotalInstances": q.Instances, "totalInstancesUsed": inst,
		"maxTotalCores": q.Cores, "totalCoresUsed": cores,
		"maxTotalRAMSize": q.RAMMB, "totalRAMUsed": ram,
		"maxTotalKeypairs": 100, "maxServerMeta": 128, "maxImageMeta": 128,
		"maxPersonality": 5, "maxPersonalitySize": 10240,
		"maxServerGroups": 10, "maxServerGroupMembers": 10, "totalServerGroupsUsed": 0,
	}
	if microversion(r) < 2036 { // network proxies, gone from 2.36 on
		abs["maxSecurityGroups"], abs["maxSecurityGroupRules"], abs["totalSecurityGroupsUsed"] = 10, 20, 0
		abs["maxTotalFloatingIps"], abs["totalFloatingIpsUsed"] = 10, 0
	}
	writeJSON(w, 200, map[string]any{"limits": map[string]any{"rate": []any{}, "absolute": abs}})
}

// availabilityZonesDetail is admin-only in Nova's default policy: a project
// member gets 403, and `openstack availability zone list` falls back to the
// plain listing.
func (s *Server) availabilityZonesDetail(w http.ResponseWriter, r *http.Request, rg *region) {
	novaError(w, 403, "Policy doesn't allow os_compute_api:os-availability-zone:detail to be performed.")
}

// quotaSet answers os-quota-sets/{project}[/detail|/defaults] for the
// token's own project (Nova does not check the ID; a member may read only
// its own, so another project gets 403 as under Nova's default policy).
func (s *Server) quotaSet(w http.ResponseWriter, r *http.Request, rg *region) {
	if p := r.PathValue("project"); p != rg.cloud.projectID {
		novaError(w, 403, "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.")
		return
	}
	inst, cores, ram := rg.usage()
	q := rg.quota
	if strings.HasSuffix(r.URL.Path, "/defaults") {
		q = s.opts.Quota
	}
	set := map[string][2]int{ // limit, in use
		"instances": {q.Instances, inst}, "cores": {q.Cores, cores}, "ram": {q.RAMMB, ram},
		"key_pairs": {100, len(rg.keypairs)}, "metadata_items": {128, 0},
		"server_groups": {10, 0}, "server_group_members": {10, 0},
	}
	mv := microversion(r)
	if mv < 2036 { // network proxies, gone from 2.36 on
		for _, k := range []string{"fixed_ips", "floating_ips", "security_groups", "security_group_rules"} {
			set[k] = [2]int{-1, 0}
		}
	}
	if mv < 2057 { // personality files, gone from 2.57 on
		set["injected_files"], set["injected_file_content_bytes"], set["injected_file_path_bytes"] = [2]int{5, 0}, [2]int{10240, 0}, [2]int{255, 0}
	}
	out := map[string]any{"id": rg.cloud.projectID}
	for k, v := range set {
		switch {
		case strings.HasSuffix(r.URL.Path, "/detail"):
			out[k] = map[string]int{"limit": v[0], "in_use": v[1], "reserved": 0}
		default:
			out[k] = v[0]
		}
	}
	writeJSON(w, 200, map[string]any{"quota_set": out})
}

func (s *Server) availabilityZones(w http.ResponseWriter, r *http.Request, rg *region) {
	var list []any
	for _, a := range rg.azs {
		list = append(list, map[string]any{"zoneName": a, "zoneState": map[string]any{"available": true}, "hosts": nil})
	}
	writeJSON(w, 200, map[string]any{"availabilityZoneInfo": list})
}
