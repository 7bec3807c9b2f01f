package provision

import (
	"errors"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
)

// backoff is a region's exponential back-off after failures. It grows while
// failures continue and is cleared by a successful create.
type backoff struct {
	failures int
	until    time.Time
	reason   string
}

func (b *backoff) fail(now time.Time, err error, initial, max time.Duration) {
	b.failures++
	d := initial
	for i := 1; i < b.failures && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	if ra := cloud.RetryAfter(err); ra > d {
		d = ra
	}
	if until := now.Add(d); until.After(b.until) {
		b.until = until
	}
	switch {
	case errors.Is(err, cloud.ErrQuota):
		b.reason = "quota: " + err.Error()
	case errors.Is(err, cloud.ErrAuth):
		b.reason = "authentication: " + err.Error()
	default:
		b.reason = err.Error()
	}
}

func (b *backoff) reset() { *b = backoff{} }

func (b *backoff) active(now time.Time) bool { return now.Before(b.until) }
