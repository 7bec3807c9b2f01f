package localcloud

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Glance answers errors as plain text wrapped in a small HTML page; a JSON
// body with the message is close enough for clients, which read the status.
func glanceError(w http.ResponseWriter, code int, msg string) {
	if code == 401 {
		keystoneError(w, 401, "Unauthorized", msg)
		return
	}
	writeJSON(w, code, map[string]any{"code": code, "title": http.StatusText(code), "message": msg})
}

func neutronError(w http.ResponseWriter, code int, msg string) {
	if code == 401 {
		keystoneError(w, 401, "Unauthorized", msg)
		return
	}
	typ := map[int]string{400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 429: "OverQuota", 500: "InternalServerError", 503: "ServiceUnavailable"}[code]
	writeJSON(w, code, map[string]any{"NeutronError": map[string]any{"type": typ, "message": msg, "detail": ""}})
}

func (s *Server) imageRoutes(mux *http.ServeMux) {
	p := "/image/{region}/v2"
	exact(mux, "GET", "/image/{region}", s.regionalVersions(glanceError, func(w http.ResponseWriter, u string) {
		writeJSON(w, 300, map[string]any{"versions": []any{
			map[string]any{"id": "v2.16", "status": "CURRENT", "links": []any{map[string]any{"rel": "self", "href": u + "/v2/"}}},
		}})
	}))
	mux.Handle("GET "+p+"/images", s.regional(glanceError, s.listImages))
	mux.Handle("GET "+p+"/images/{id}", s.regional(glanceError, s.getImage))
	mux.Handle("DELETE "+p+"/images/{id}", s.regional(glanceError, s.deleteImage))
}

func (s *Server) imageJSON(rg *region, i *image) map[string]any {
	out := map[string]any{
		"id": i.ID, "name": i.Name, "status": i.Status, "visibility": "public", "protected": false,
		"os_hidden": false, "tags": []string{}, "container_format": "bare", "disk_format": "qcow2",
		"min_disk": i.MinDisk, "min_ram": i.MinRAM, "size": 1 << 20, "virtual_size": nil, "checksum": "",
		"owner":      rg.cloud.projectID,
		"created_at": i.Created.Format(time.RFC3339), "updated_at": i.Created.Format(time.RFC3339),
		"self": "/v2/images/" + i.ID, "file": "/v2/images/" + i.ID + "/file", "schema": "/v2/schemas/image",
	}
	if i.ServerID != "" {
		out["instance_uuid"], out["image_type"] = i.ServerID, "snapshot"
	}
	return out
}

func (s *Server) listImages(w http.ResponseWriter, r *http.Request, rg *region) {
	q := r.URL.Query()
	list := []any{}
	for _, i := range rg.images {
		if n := q.Get("name"); n != "" && n != i.Name {
			continue
		}
		if st := q.Get("status"); st != "" && st != i.Status {
			continue
		}
		if id := q.Get("id"); id != "" && id != i.ID {
			continue
		}
		list = append(list, s.imageJSON(rg, i))
	}
	writeJSON(w, 200, map[string]any{"images": list, "first": "/v2/images", "schema": "/v2/schemas/images"})
}

func (s *Server) getImage(w http.ResponseWriter, r *http.Request, rg *region) {
	for _, i := range rg.images {
		if i.ID == r.PathValue("id") {
			writeJSON(w, 200, s.imageJSON(rg, i))
			return
		}
	}
	glanceError(w, 404, "No image found with ID "+r.PathValue("id"))
}

func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request, rg *region) {
	for k, i := range rg.images {
		if i.ID == r.PathValue("id") {
			i.Status = "deleted"
			rg.images = append(rg.images[:k], rg.images[k+1:]...)
			w.WriteHeader(204)
			return
		}
	}
	glanceError(w, 404, "No image found with ID "+r.PathValue("id"))
}

func (s *Server) networkRoutes(mux *http.ServeMux) {
	p := "/network/{region}/v2.0"
	exact(mux, "GET", "/network/{region}", s.regionalVersions(neutronError, func(w http.ResponseWriter, u string) {
		writeJSON(w, 200, map[string]any{"versions": []any{
			map[string]any{"id": "v2.0", "status": "CURRENT", "links": []any{map[string]any{"rel": "self", "href": u + "/v2.0/"}}},
		}})
	}))
	mux.Handle("GET "+p+"/networks", s.regional(neutronError, s.listNetworks))
	mux.Handle("GET "+p+"/networks/{id}", s.regional(neutronError, s.getNetwork))
	mux.Handle("GET "+p+"/security-groups", s.regional(neutronError, s.listSecGroups))
	mux.Handle("GET "+p+"/security-groups/{id}", s.regional(neutronError, s.getSecGroup))
	mux.Handle("GET "+p+"/security-group-rules", s.regional(neutronError, s.listSecRules))
	mux.Handle("POST "+p+"/security-group-rules", s.regional(neutronError, s.createSecRule))
	mux.Handle("GET "+p+"/security-group-rules/{id}", s.regional(neutronError, s.getSecRule))
	mux.Handle("DELETE "+p+"/security-group-rules/{id}", s.regional(neutronError, s.deleteSecRule))
	mux.Handle("GET "+p+"/subnets", s.regional(neutronError, s.listSubnets))
	mux.Handle("GET "+p+"/subnets/{id}", s.regional(neutronError, s.getSubnet))
	mux.Handle("GET "+p+"/ports", s.regional(neutronError, s.listPorts))
	mux.Handle("GET "+p+"/ports/{id}", s.regional(neutronError, s.getPort))
	mux.Handle("GET "+p+"/availability_zones", s.regional(neutronError, s.networkAZs))
	mux.Handle("GET "+p+"/quotas/{project}", s.regional(neutronError, s.networkQuota))
	mux.Handle("GET "+p+"/quotas/{project}/details", s.regional(neutronError, s.networkQuota))
	mux.Handle("GET "+p+"/quotas/{project}/default", s.regional(neutronError, s.networkQuota))
}

func (s *Server) networkJSON(rg *region, n *network) map[string]any {
	return map[string]any{
		"id": n.ID, "name": n.Name, "status": "ACTIVE", "admin_state_up": true, "shared": false,
		"subnets": []string{n.SubnetID}, "tenant_id": rg.cloud.projectID, "project_id": rg.cloud.projectID,
		"router:external": n.Name == "public", "mtu": 1450, "availability_zones": []string{"nova"},
		"description": "", "tags": []string{},
	}
}

// match applies Neutron's equality filters for the given fields.
func match(r *http.Request, fields map[string]string) bool {
	q := r.URL.Query()
	for k, v := range fields {
		if want, ok := q[k]; ok && len(want) > 0 {
			found := false
			for _, w := range want {
				found = found || w == v
			}
			if !found {
				return false
			}
		}
	}
	return true
}

// neutronList answers a Neutron list call: under key, each item whose
// fields pass the query's equality filters, as render shows it.
func neutronList[T any](w http.ResponseWriter, r *http.Request, key string, items []T, fields func(T) map[string]string, render func(T) map[string]any) {
	list := []any{}
	for _, it := range items {
		if match(r, fields(it)) {
			list = append(list, render(it))
		}
	}
	writeJSON(w, 200, map[string]any{key: list})
}

// neutronShow answers a Neutron show call: under key, the item whose id is
// the path's, or a 404 with missing, the message Neutron gives.
func neutronShow[T any](w http.ResponseWriter, r *http.Request, key string, items []T, id func(T) string, render func(T) map[string]any, missing string) {
	for _, it := range items {
		if id(it) == r.PathValue("id") {
			writeJSON(w, 200, map[string]any{key: render(it)})
			return
		}
	}
	neutronError(w, 404, missing)
}

func (s *Server) listNetworks(w http.ResponseWriter, r *http.Request, rg *region) {
	neutronList(w, r, "networks", rg.networks, func(n *network) map[string]string { return map[string]string{"id": n.ID, "name": n.Name} },
		func(n *network) map[string]any { return s.networkJSON(rg, n) })
}

func (s *Server) getNetwork(w http.ResponseWriter, r *http.Request, rg *region) {
	neutronShow(w, r, "network", rg.networks, func(n *network) string { return n.ID },
		func(n *network) map[string]any { return s.networkJSON(rg, n) }, "Network "+r.PathValue("id")+" could not be found.")
}

func (s *Server) subnetJSON(rg *region, n *network) map[string]any {
	return map[string]any{
		"id": n.SubnetID, "name": n.Name + "-subnet", "network_id": n.ID, "ip_version": 4,
		"cidr": n.Subnet + ".0/24", "gateway_ip": n.Subnet + ".1", "enable_dhcp": true,
		"allocation_pools": []any{map[string]any{"start": n.Subnet + ".2", "end": n.Subnet + ".254"}},
		"dns_nameservers":  []string{}, "host_routes": []any{}, "service_types": []string{},
		"ipv6_ra_mode": nil, "ipv6_address_mode": nil, "subnetpool_id": nil, "segment_id": nil,
		"tenant_id": rg.cloud.projectID, "project_id": rg.cloud.projectID, "description": "", "tags": []string{},
	}
}

func (s *Server) listSubnets(w http.ResponseWriter, r *http.Request, rg *region) {
	neutronList(w, r, "subnets", rg.networks, func(n *network) map[string]string {
		return map[string]string{"id": n.SubnetID, "name": n.Name + "-subnet", "network_id": n.ID}
	}, func(n *network) map[string]any { return s.subnetJSON(rg, n) })
}

func (s *Server) getSubnet(w http.ResponseWriter, r *http.Request, rg *region) {
	neutronShow(w, r, "subnet", rg.networks, func(n *network) string { return n.SubnetID },
		func(n *network) map[string]any { return s.subnetJSON(rg, n) }, "Subnet "+r.PathValue("id")+" could not be found.")
}

// ports are the servers' addresses: one port per server and network, from
// the moment the server has its address.
func (s *Server) ports(rg *region) []map[string]any {
	var vms []*vm
	for _, v := range rg.servers {
		vms = append(vms, v)
	}
	sortVMs(vms, false)
	var out []map[string]any
	for _, v := range vms {
		for _, n := range v.networks {
			p, ok := v.ports[n.Name]
			if !ok {
				continue
			}
			var sgs []string
			for _, name := range v.secGroups {
				for _, g := range rg.secgrps {
					if g.Name == name {
						sgs = append(sgs, g.ID)
					}
				}
			}
			out = append(out, map[string]any{
				"id": p.ID, "name": "", "network_id": n.ID, "mac_address": p.MAC, "status": "ACTIVE",
				"admin_state_up": true, "device_id": v.id, "device_owner": "compute:" + v.az,
				"fixed_ips":       []any{map[string]any{"subnet_id": n.SubnetID, "ip_address": v.ips[n.Name]}},
				"security_groups": sgs, "tenant_id": rg.cloud.projectID, "project_id": rg.cloud.projectID,
				"binding:vnic_type": "normal", "port_security_enabled": true, "allowed_address_pairs": []any{},
				"extra_dhcp_opts": []any{}, "description": "", "tags": []string{},
			})
		}
	}
	return out
}

func (s *Server) listPorts(w http.ResponseWriter, r *http.Request, rg *region) {
	neutronList(w, r, "ports", s.ports(rg), func(p map[string]any) map[string]string {
		f := map[string]string{}
		for _, k := range []string{"id", "network_id", "device_id", "device_owner", "mac_address"} {
			f[k] = p[k].(string)
		}
		return f
	}, asIs)
}

func (s *Server) getPort(w http.ResponseWriter, r *http.Request, rg *region) {
	neutronShow(w, r, "port", s.ports(rg), func(p map[string]any) string { return p["id"].(string) }, asIs,
		"Port "+r.PathValue("id")+" could not be found.")
}

func asIs(p map[string]any) map[string]any { return p }

func (s *Server) networkAZs(w http.ResponseWriter, r *http.Request, rg *region) {
	list := []any{}
	for _, a := range rg.azs {
		list = append(list, map[string]any{"name": a, "resource": "network", "state": "available"})
	}
	writeJSON(w, 200, map[string]any{"availability_zones": list})
}

// networkQuota is Neutron's quotas/{project}[/details|/default] for the
// token's own project.
func (s *Server) networkQuota(w http.ResponseWriter, r *http.Request, rg *region) {
	if r.PathValue("project") != rg.cloud.projectID {
		neutronError(w, 403, "Policy doesn't allow get_quota to be performed.")
		return
	}
	var groupRules int
	for _, g := range rg.secgrps {
		groupRules += len(g.Rules)
	}
	set := map[string][2]int{ // limit, used
		"network": {100, len(rg.networks)}, "subnet": {100, len(rg.networks)}, "port": {500, len(s.ports(rg))},
		"router": {10, 0}, "floatingip": {50, 0}, "security_group": {10, len(rg.secgrps)},
		"security_group_rule": {100, groupRules}, "rbac_policy": {10, 0}, "subnetpool": {-1, 0},
	}
	out := map[string]any{}
	for k, v := range set {
		if strings.HasSuffix(r.URL.Path, "/details") {
			out[k] = map[string]int{"limit": v[0], "used": v[1], "reserved": 0}
		} else {
			out[k] = v[0]
		}
	}
	writeJSON(w, 200, map[string]any{"quota": out})
}

func (s *Server) ruleJSON(rg *region, g *secGroup, r secRule) map[string]any {
	return map[string]any{
		"id": r.ID, "direction": r.Direction, "ethertype": r.EtherType, "protocol": r.Protocol,
		"port_range_min": r.PortRangeMin, "port_range_max": r.PortRangeMax,
		"remote_ip_prefix": r.RemoteIPPrefix, "remote_group_id": r.RemoteGroupID,
		"security_group_id": g.ID, "tenant_id": rg.cloud.projectID, "project_id": rg.cloud.projectID,
		"description": "",
	}
}

func (s *Server) secGroupJSON(rg *region, g *secGroup) map[string]any {
	rules := []any{}
	for _, r := range g.Rules {
		rules = append(rules, s.ruleJSON(rg, g, r))
	}
	return map[string]any{
		"id": g.ID, "name": g.Name, "description": g.Description, "security_group_rules": rules,
		"tenant_id": rg.cloud.projectID, "project_id": rg.cloud.projectID, "stateful": true, "tags": []string{},
	}
}

func (s *Server) listSecGroups(w http.ResponseWriter, r *http.Request, rg *region) {
	neutronList(w, r, "security_groups", rg.secgrps, func(g *secGroup) map[string]string { return map[string]string{"id": g.ID, "name": g.Name} },
		func(g *secGroup) map[string]any { return s.secGroupJSON(rg, g) })
}

func (s *Server) getSecGroup(w http.ResponseWriter, r *http.Request, rg *region) {
	neutronShow(w, r, "security_group", rg.secgrps, func(g *secGroup) string { return g.ID },
		func(g *secGroup) map[string]any { return s.secGroupJSON(rg, g) }, "Security group "+r.PathValue("id")+" does not exist")
}

// groupRule is one rule with the group it belongs to.
type groupRule struct {
	g    *secGroup
	rule secRule
}

// rules are every security group's rules, in order.
func (rg *region) rules() []groupRule {
	var out []groupRule
	for _, g := range rg.secgrps {
		for _, rule := range g.Rules {
			out = append(out, groupRule{g, rule})
		}
	}
	return out
}

func (s *Server) listSecRules(w http.ResponseWriter, r *http.Request, rg *region) {
	neutronList(w, r, "security_group_rules", rg.rules(), func(gr groupRule) map[string]string {
		return map[string]string{"security_group_id": gr.g.ID, "direction": gr.rule.Direction, "id": gr.rule.ID}
	}, func(gr groupRule) map[string]any { return s.ruleJSON(rg, gr.g, gr.rule) })
}

// createSecRule is Neutron's POST /v2.0/security-group-rules: the group must
// exist, a rule equal to an existing one is a 409 as in Neutron.
func (s *Server) createSecRule(w http.ResponseWriter, r *http.Request, rg *region) {
	var body struct {
		Rule struct {
			SecurityGroupID string `json:"security_group_id"`
			Direction       string `json:"direction"`
			EtherType       string `json:"ethertype"`
			Protocol        any    `json:"protocol"`
			PortRangeMin    any    `json:"port_range_min"`
			PortRangeMax    any    `json:"port_range_max"`
			RemoteIPPrefix  any    `json:"remote_ip_prefix"`
			RemoteGroupID   any    `json:"remote_group_id"`
		} `json:"security_group_rule"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		neutronError(w, 400, "Bad security_group_rule request: "+err.Error())
		return
	}
	b := body.Rule
	if b.Direction != "ingress" && b.Direction != "egress" {
		neutronError(w, 400, "Invalid input for direction. Reason: '"+b.Direction+"' is not in ['ingress', 'egress'].")
		return
	}
	if b.EtherType == "" {
		b.EtherType = "IPv4"
	}
	if b.RemoteIPPrefix != nil && b.RemoteGroupID != nil {
		neutronError(w, 400, "Only remote_ip_prefix or remote_group_id may be provided.")
		return
	}
	for _, g := range rg.secgrps {
		if g.ID != b.SecurityGroupID {
			continue
		}
		rule := secRule{ID: newID(), Direction: b.Direction, EtherType: b.EtherType, Protocol: b.Protocol,
			PortRangeMin: num(b.PortRangeMin), PortRangeMax: num(b.PortRangeMax), RemoteIPPrefix: b.RemoteIPPrefix, RemoteGroupID: b.RemoteGroupID}
		for _, old := range g.Rules {
			o := old
			o.ID = rule.ID
			if fmt.Sprint(o) == fmt.Sprint(rule) {
				neutronError(w, 409, "Security group rule already exists. Rule id is "+old.ID+".")
				return
			}
		}
		g.Rules = append(g.Rules, rule)
		writeJSON(w, 201, map[string]any{"security_group_rule": s.ruleJSON(rg, g, rule)})
		return
	}
	neutronError(w, 404, fmt.Sprintf("Security group %v does not exist", b.SecurityGroupID))
}

// num turns a JSON number into an int (as the seeded rules hold them).
func num(v any) any {
	if f, ok := v.(float64); ok {
		return int(f)
	}
	return v
}

func (s *Server) getSecRule(w http.ResponseWriter, r *http.Request, rg *region) {
	neutronShow(w, r, "security_group_rule", rg.rules(), func(gr groupRule) string { return gr.rule.ID },
		func(gr groupRule) map[string]any { return s.ruleJSON(rg, gr.g, gr.rule) }, "Security group rule "+r.PathValue("id")+" could not be found.")
}

func (s *Server) deleteSecRule(w http.ResponseWriter, r *http.Request, rg *region) {
	for _, g := range rg.secgrps {
		for i, rule := range g.Rules {
			if rule.ID == r.PathValue("id") {
				g.Rules = append(g.Rules[:i], g.Rules[i+1:]...)
				w.WriteHeader(204)
				return
			}
		}
	}
	neutronError(w, 404, "Security group rule "+r.PathValue("id")+" could not be found.")
}
