package cloud

import (
	"errors"
	"fmt"
	"time"
)

// Error classes. Every error lib/openstack returns matches exactly one of
// them with errors.Is, so callers branch on the class, not on HTTP codes.
var (
	ErrQuota     = errors.New("quota exceeded")
	ErrNotFound  = errors.New("not found")
	ErrTransient = errors.New("transient cloud error")
	ErrAuth      = errors.New("authentication failed")
	ErrFatal     = errors.New("request refused")
)

// APIError is a classified cloud error.
type APIError struct {
	Class      error         // one of the Err* sentinels
	Op         string        // "create server", "list servers", ...
	Location   Location      // where it happened
	Status     int           // HTTP status, 0 for network errors
	Message    string        // the cloud's own message, if any
	RetryAfter time.Duration // from a Retry-After header, if any
	Err        error         // the underlying error
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	s := fmt.Sprintf("%s in %s: %s", e.Op, e.Location, e.Class)
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if msg != "" {
		s += ": " + msg
	}
	return s
}

func (e *APIError) Is(target error) bool { return target == e.Class }
func (e *APIError) Unwrap() error        { return e.Err }

// RetryAfter returns the delay a cloud asked for, if err carries one.
func RetryAfter(err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}
