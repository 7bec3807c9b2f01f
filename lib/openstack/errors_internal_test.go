package openstack

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/gophercloud/gophercloud/v2"
)

func TestClassifyBodies(t *testing.T) {
	loc := cloud.Location{Cloud: "c", Region: "r"}
	resp := func(status int, body string, hdr http.Header) error {
		return gophercloud.ErrUnexpectedResponseCode{Actual: status, Body: []byte(body), ResponseHeader: hdr}
	}
	tests := []struct {
		name  string
		err   error
		class error
		msg   string
	}{
		{"nova quota 403", resp(403, `{"forbidden": {"message": "Quota exceeded for cores: Requested 4, but already used 20 of 20 cores", "code": 403}}`, nil), cloud.ErrQuota, "Quota exceeded for cores: Requested 4, but already used 20 of 20 cores"},
		{"nova policy 403", resp(403, `{"forbidden": {"message": "Policy doesn't allow os_compute_api:servers:create to be performed.", "code": 403}}`, nil), cloud.ErrFatal, "Policy doesn't allow os_compute_api:servers:create to be performed."},
		{"nova 413 rate", resp(413, `{"overLimit": {"message": "This request was rate-limited.", "code": 413, "retryAfter": "5"}}`, http.Header{"Retry-After": {"5"}}), cloud.ErrTransient, "This request was rate-limited."},
		{"nova 400", resp(400, `{"badRequest": {"message": "Invalid flavorRef provided.", "code": 400}}`, nil), cloud.ErrFatal, "Invalid flavorRef provided."},
		{"keystone 401", resp(401, `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`, nil), cloud.ErrAuth, "The request you have made requires authentication."},
		{"neutron 404", resp(404, `{"NeutronError": {"type": "NetworkNotFound", "message": "Network x could not be found.", "detail": ""}}`, nil), cloud.ErrNotFound, "Network x could not be found."},
		{"neutron overquota", resp(409, `{"NeutronError": {"type": "OverQuota", "message": "Quota exceeded for resources: ['port'].", "detail": ""}}`, nil), cloud.ErrQuota, "Quota exceeded for resources: ['port']."},
		{"html 502", resp(502, "<html><body>Bad Gateway</body></html>", nil), cloud.ErrTransient, "<html><body>Bad Gateway</body></html>"},
		{"reauth failed", &gophercloud.ErrUnableToReauthenticate{ErrOriginal: resp(401, "", nil), ErrReauth: resp(401, `{"error": {"message": "bad password"}}`, nil)}, cloud.ErrAuth, "re-authentication failed: bad password"},
		// Bodies captured from a real Nova (Zed) by the realos tests.
		{"zed quota cores", resp(403, `{"forbidden": {"code": 403, "message": "Quota exceeded for cores: Requested 2, but already used 0 of 1 cores"}}`, nil), cloud.ErrQuota, "Quota exceeded for cores: Requested 2, but already used 0 of 1 cores"},
		{"zed image", resp(400, `{"badRequest": {"code": 400, "message": "Can not find requested image"}}`, nil), cloud.ErrFatal, "Can not find requested image"},
		{"zed server 404", resp(404, `{"itemNotFound": {"code": 404, "message": "Instance 00000000-0000-4000-8000-000000000000 could not be found."}}`, nil), cloud.ErrNotFound, "Instance 00000000-0000-4000-8000-000000000000 could not be found."},
		{"pointer 404", &gophercloud.ErrUnexpectedResponseCode{Actual: 404, Body: []byte(`{"itemNotFound": {"message": "gone", "code": 404}}`)}, cloud.ErrNotFound, "gone"},
		{"401 after reauth", &gophercloud.ErrErrorAfterReauthentication{ErrOriginal: resp(401, "", nil)}, cloud.ErrAuth, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := classify("op", loc, tc.err)
			if !errors.Is(err, tc.class) {
				t.Fatalf("class of %v: want %v", err, tc.class)
			}
			var ae *cloud.APIError
			errors.As(err, &ae)
			if ae.Message != tc.msg {
				t.Errorf("message %q, want %q", ae.Message, tc.msg)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"1.5":                           1500 * time.Millisecond,
		"Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second,
		"Wed, 31 Dec 2025 00:00:30 GMT": 0,
		"soon":                          0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}
