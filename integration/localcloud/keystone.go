package localcloud

import (
	"encoding/json"
	"net/http"
	"time"
)

type authRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password struct {
				User struct {
					ID       string `json:"id"`
					Name     string `json:"name"`
					Password string `json:"password"`
				} `json:"user"`
			} `json:"password"`
			AppCred struct {
				ID     string `json:"id"`
				Name   string `json:"name"`
				Secret string `json:"secret"`
			} `json:"application_credential"`
			Token struct {
				ID string `json:"id"`
			} `json:"token"`
		} `json:"identity"`
		Scope json.RawMessage `json:"scope"`
	} `json:"auth"`
}

func keystoneError(w http.ResponseWriter, code int, title, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{"code": code, "title": title, "message": msg}})
}

func (s *Server) handleVersions(w http.ResponseWriter, r *http.Request) {
	v3 := map[string]any{
		"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
		"links":       []any{map[string]any{"rel": "self", "href": s.AuthURL() + "/"}},
		"media-types": []any{map[string]any{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}},
	}
	if r.URL.Path == "/v3" || r.URL.Path == "/v3/" {
		writeJSON(w, 200, map[string]any{"version": v3})
		return
	}
	writeJSON(w, 300, map[string]any{"versions": map[string]any{"values": []any{v3}}})
}

func (s *Server) handleAuthTokens(w http.ResponseWriter, r *http.Request) {
	var req authRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		keystoneError(w, 400, "Bad Request", "Expecting to find auth in request body.")
		return
	}
	id := req.Auth.Identity
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.authFail {
		keystoneError(w, 401, "Unauthorized", "The request you have made requires authentication.")
		return
	}
	var cs *cloudState
	var methods []string
	expires := time.Now().Add(s.opts.TokenTTL).UTC()
	for _, m := range id.Methods {
		switch m {
		case "password":
			u := id.Password.User
			for _, c := range s.clouds {
				if (u.Name == c.spec.Name || u.ID == c.userID) && u.Password == c.spec.Password && c.spec.Password != "" {
					cs = c
				}
			}
		case "application_credential":
			a := id.AppCred
			for _, c := range s.clouds {
				if c.spec.AppCredID != "" && (a.ID == c.spec.AppCredID || a.Name == c.spec.AppCredID) && a.Secret == c.spec.AppCredSecret {
					cs = c
				}
			}
		case "token":
			if t, ok := s.tokens[id.Token.ID]; ok && time.Now().Before(t.expires) {
				cs, expires = t.cloud, t.expires
			}
		}
		methods = append(methods, m)
	}
	if cs == nil {
		keystoneError(w, 401, "Unauthorized", "The request you have made requires authentication.")
		return
	}
	if len(req.Auth.Scope) > 0 && string(req.Auth.Scope) != "null" {
		var sc struct {
			Project struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"project"`
		}
		_ = json.Unmarshal(req.Auth.Scope, &sc)
		p := sc.Project
		if (p.ID != "" && p.ID != cs.projectID) || (p.Name != "" && p.Name != cs.spec.Name) {
			keystoneError(w, 401, "Unauthorized", "User "+cs.userID+" has no access to project "+p.Name+p.ID)
			return
		}
	}
	t := &token{id: newToken(), cloud: cs, expires: expires, methods: methods}
	s.tokens[t.id] = t
	w.Header().Set("X-Subject-Token", t.id)
	writeJSON(w, 201, map[string]any{"token": s.tokenBody(t)})
}

func (s *Server) tokenBody(t *token) map[string]any {
	cs := t.cloud
	dom := map[string]any{"id": "default", "name": "Default"}
	var catalog []any
	svc := func(typ, name, path string) {
		var eps []any
		for _, rname := range cs.spec.Regions {
			url := s.url + path
			if path != "/v3" {
				url = s.url + path + "/" + rname
				if typ == "compute" {
					url += "/v2.1"
				}
			}
			for _, iface := range []string{"public", "internal"} {
				eps = append(eps, map[string]any{"id": newID(), "interface": iface, "region": rname, "region_id": rname, "url": url})
			}
		}
		catalog = append(catalog, map[string]any{"id": newID(), "type": typ, "name": name, "endpoints": eps})
	}
	svc("identity", "keystone", "/v3")
	svc("compute", "nova", "/compute")
	svc("image", "glance", "/image")
	svc("network", "neutron", "/network")
	return map[string]any{
		"methods":    t.methods,
		"user":       map[string]any{"id": cs.userID, "name": cs.spec.Name, "domain": dom, "password_expires_at": nil},
		"project":    map[string]any{"id": cs.projectID, "name": cs.spec.Name, "domain": dom},
		"roles":      []any{map[string]any{"id": "r-member", "name": "member"}, map[string]any{"id": "r-reader", "name": "reader"}},
		"catalog":    catalog,
		"expires_at": t.expires.Format("2006-01-02T15:04:05.000000Z"),
		"issued_at":  time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"),
		"audit_ids":  []string{newID()[:22]},
	}
}

// checkToken validates X-Auth-Token for a region's service; s.mu held.
func (s *Server) checkToken(r *http.Request, rg *region) bool {
	t, ok := s.tokens[r.Header.Get("X-Auth-Token")]
	return ok && time.Now().Before(t.expires) && t.cloud == rg.cloud
}
