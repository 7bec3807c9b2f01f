package localcloud

import (
	"encoding/json"
	"net/http"
)

// The admin endpoint lets a demo or a test in another process steer the
// cloud. It needs no token: it only listens on loopback.
//
//	GET  /admin/regions                    region names
//	GET  /admin/regions/{region}/faults    current Faults
//	PUT  /admin/regions/{region}/faults    replace Faults (JSON body)
//	PUT  /admin/regions/{region}/quota     replace Quota (JSON body)
//	GET  /admin/servers[?region=R]         servers, oldest first
//	POST /admin/expire-tokens              every token issued so far expires
//	POST /admin/fail-auth?on=true|false    Keystone refuses every authentication
//	GET  /admin/clouds.yaml                a clouds.yaml for this server
func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/regions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, s.Regions())
	})
	mux.HandleFunc("GET /admin/regions/{region}/faults", func(w http.ResponseWriter, r *http.Request) {
		f, err := s.GetFaults(r.PathValue("region"))
		if err != nil {
			http.Error(w, err.Error(), 404)
			return
		}
		writeJSON(w, 200, f)
	})
	mux.HandleFunc("PUT /admin/regions/{region}/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			http.Error(w, "faults: "+err.Error(), 400)
			return
		}
		if err := s.SetFaults(r.PathValue("region"), f); err != nil {
			http.Error(w, err.Error(), 404)
			return
		}
		writeJSON(w, 200, f)
	})
	mux.HandleFunc("PUT /admin/regions/{region}/quota", func(w http.ResponseWriter, r *http.Request) {
		var q Quota
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			http.Error(w, "quota: "+err.Error(), 400)
			return
		}
		if err := s.SetQuota(r.PathValue("region"), q); err != nil {
			http.Error(w, err.Error(), 404)
			return
		}
		writeJSON(w, 200, q)
	})
	mux.HandleFunc("GET /admin/servers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, s.Servers(r.URL.Query().Get("region")))
	})
	mux.HandleFunc("POST /admin/expire-tokens", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireTokens()
		w.WriteHeader(204)
	})
	mux.HandleFunc("POST /admin/fail-auth", func(w http.ResponseWriter, r *http.Request) {
		s.FailAuth(r.URL.Query().Get("on") != "false")
		w.WriteHeader(204)
	})
	mux.HandleFunc("GET /admin/clouds.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(s.CloudsYAML())
	})
}
