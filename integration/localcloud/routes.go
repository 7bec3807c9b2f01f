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

func mvString(v int) string { return fmt.Sprintf("%d.%d", v/1000, v%1000) }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleVersions)
	mux.HandleFunc("GET /v3", s.handleVersions)
	mux.HandleFunc("GET /v3/{$}", s.handleVersions)
	mux.HandleFunc("POST /v3/auth/tokens", s.handleAuthTokens)
	s.computeRoutes(mux)
	s.imageRoutes(mux)
	s.networkRoutes(mux)
	s.adminRoutes(mux)
	return mux
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
