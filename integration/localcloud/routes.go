package localcloud

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

type errorWriter func(w http.ResponseWriter, code int, msg string)

// regional wraps a handler of one region's service: unknown region → 404,
// latency, token check, injected faults; then the handler runs with s.mu held.
func (s *Server) regional(errf errorWriter, h func(http.ResponseWriter, *http.Request, *region)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		rg, ok := s.regions[r.PathValue("region")]
		var latency time.Duration
		if ok {
			latency = time.Duration(rg.faults.Latency)
		}
		s.mu.Unlock()
		if !ok {
			errf(w, 404, "no region "+r.PathValue("region"))
			return
		}
		if strings.HasPrefix(r.URL.Path, "/compute/") {
			w.Header().Set("OpenStack-API-Version", "compute "+mvString(microversion(r)))
			w.Header().Set("X-OpenStack-Nova-API-Version", mvString(microversion(r)))
			w.Header().Set("Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version")
		}
		w.Header().Set("X-OpenStack-Request-Id", "req-"+newID())
		if latency > 0 {
			select {
			case <-time.After(latency):
			case <-r.Context().Done():
				return
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests[r.Pattern]++
		if !s.checkToken(r, rg) {
			errf(w, 401, "The request you have made requires authentication.")
			return
		}
		if status, ra := rg.injected(); status != 0 {
			if ra > 0 || status == 429 || status == 503 {
				w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(ra.Seconds()))))
			}
			msg := http.StatusText(status)
			if status == 429 {
				msg = "This request was rate-limited."
			}
			errf(w, status, "injected fault: "+msg)
			return
		}
		h(w, r, rg)
	})
}

// regionalVersions serves a service's unversioned root (its catalog URL)
// for a known region; no token is needed, as in OpenStack.
func (s *Server) regionalVersions(errf errorWriter, h func(w http.ResponseWriter, base string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		_, ok := s.regions[r.PathValue("region")]
		s.mu.Unlock()
		if !ok {
			errf(w, 404, "no region "+r.PathValue("region"))
			return
		}
		h(w, s.url+strings.TrimSuffix(r.URL.Path, "/"))
	})
}

func mvString(v int) string { return fmt.Sprintf("%d.%d", v/1000, v%1000) }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleVersions)
	exact(mux, "GET", "/v3", http.HandlerFunc(s.handleVersions))
	mux.HandleFunc("POST /v3/auth/tokens", s.handleAuthTokens)
	s.computeRoutes(mux)
	s.imageRoutes(mux)
	s.networkRoutes(mux)
	s.adminRoutes(mux)
	mux.Handle("/", unknownRoute(mux))
	return mux
}

// exact registers h for path and for path + "/": the catalog URLs have no
// trailing slash, and Go's mux would answer them with a relative redirect
// that keystoneauth's version discovery does not follow.
func exact(mux *http.ServeMux, method, path string, h http.Handler) {
	mux.Handle(method+" "+path, h)
	mux.Handle(method+" "+path+"/{$}", h)
}

// unknownRoute answers what no route matches as the service the path
// belongs to would: a JSON fault, 405 when the path exists under another
// method, else 404 (never Go's plain-text "404 page not found").
func unknownRoute(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		errf := func(w http.ResponseWriter, code int, msg string) {
			keystoneError(w, code, http.StatusText(code), msg)
		}
		switch strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0] {
		case "compute":
			errf = novaError
		case "image":
			errf = glanceError
		case "network":
			errf = neutronError
		}
		var allowed []string
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
			r2 := r.Clone(r.Context())
			r2.Method = m
			if _, pat := mux.Handler(r2); pat != "/" && pat != "" {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			errf(w, 405, "The method "+r.Method+" is not allowed for "+r.URL.Path+".")
			return
		}
		errf(w, 404, "The resource could not be found.")
	})
}

// RequestCounts returns how many requests each route received (keyed by
// its pattern, e.g. "GET /compute/{region}/v2.1/servers/detail"), since
// the start or the last ResetRequestCounts. Tests use it to prove that a
// listing costs one paged call and no per-server GETs.
func (s *Server) RequestCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}

// ResetRequestCounts zeroes RequestCounts.
func (s *Server) ResetRequestCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = map[string]int{}
}
