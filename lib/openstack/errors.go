package openstack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/gophercloud/gophercloud/v2"
)

// classify turns any error from gophercloud or the network into a
// *cloud.APIError. Already classified errors pass through.
func classify(op string, loc cloud.Location, err error) error {
	if err == nil {
		return nil
	}
	var ae *cloud.APIError
	if errors.As(err, &ae) {
		return err
	}
	e := &cloud.APIError{Op: op, Location: loc, Err: err}
	var reauth *gophercloud.ErrUnableToReauthenticate
	var code gophercloud.ErrUnexpectedResponseCode
	var codePtr *gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &code) && errors.As(err, &codePtr) && codePtr != nil {
		code = *codePtr // gophercloud returns values, but be safe with pointers
	}
	switch {
	case errors.As(err, &reauth):
		e.Class, e.Status = cloud.ErrAuth, http.StatusUnauthorized
		e.Message = "re-authentication failed"
		if reauth.ErrReauth != nil {
			var rc gophercloud.ErrUnexpectedResponseCode
			if errors.As(reauth.ErrReauth, &rc) {
				e.Message += ": " + bodyMessage(rc.Body)
			} else {
				e.Message += ": " + reauth.ErrReauth.Error()
			}
		}
	case code.Actual != 0:
		e.Status = code.Actual
		e.Message = bodyMessage(code.Body)
		e.Class = classByStatus(code.Actual, e.Message)
		if code.Actual == http.StatusTooManyRequests || code.Actual == http.StatusServiceUnavailable || code.Actual == http.StatusRequestEntityTooLarge {
			e.RetryAfter = parseRetryAfter(code.ResponseHeader.Get("Retry-After"), time.Now())
		}
	case isTransientNet(err):
		e.Class = cloud.ErrTransient
	default:
		var nf gophercloud.ErrResourceNotFound
		var ep *gophercloud.ErrEndpointNotFound
		switch {
		case errors.As(err, &nf):
			e.Class = cloud.ErrNotFound
		case errors.As(err, &ep):
			e.Class = cloud.ErrFatal
			e.Message = "no endpoint for this service in the catalog"
		default:
			e.Class = cloud.ErrFatal
		}
	}
	return e
}

func classByStatus(status int, msg string) error {
	lower := strings.ToLower(msg)
	switch {
	case status == http.StatusNotFound:
		return cloud.ErrNotFound
	case status == http.StatusUnauthorized:
		return cloud.ErrAuth
	case status == http.StatusRequestEntityTooLarge:
		// Nova's overLimit: quota (older Nova) or, without a quota
		// message, a rate limit; both clear up by waiting.
		if strings.Contains(lower, "quota") {
			return cloud.ErrQuota
		}
		return cloud.ErrTransient
	case status == http.StatusForbidden && strings.Contains(lower, "quota"):
		return cloud.ErrQuota
	case status == http.StatusConflict && strings.Contains(lower, "quota"):
		return cloud.ErrQuota // Neutron's OverQuota on ports
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout, status >= 500:
		return cloud.ErrTransient
	default:
		return cloud.ErrFatal
	}
}

// bodyMessage extracts the human message from an OpenStack error body:
// Nova {"badRequest": {"message": ...}}, Keystone {"error": {...}},
// Neutron {"NeutronError": {...}}, Glance {"message": ...}; else the text.
func bodyMessage(body []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) == nil {
		if m, ok := top["message"]; ok {
			var s string
			if json.Unmarshal(m, &s) == nil {
				return s
			}
		}
		for _, v := range top {
			var inner struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(v, &inner) == nil && inner.Message != "" {
				return inner.Message
			}
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// parseRetryAfter reads delta-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func isTransientNet(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	var op *net.OpError
	return errors.As(err, &op)
}
