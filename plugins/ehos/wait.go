package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
)

// DefaultTimeout bounds every command that talks to the collector or a
// cloud (--timeout): an address whose packets are dropped would otherwise
// hold it for the tools' own, longer limits, printing nothing.
const DefaultTimeout = 30 * time.Second

// waitAfter is how long a command waits in silence before it says what it
// waits for.
const waitAfter = 2 * time.Second

// waiter says on stderr what a command is waiting for, once it has waited
// waitAfter, and again every 10 s, until stopped: a person at the terminal
// sees why nothing happens yet.
type waiter struct {
	mu    sync.Mutex
	what  string
	start time.Time
	stop  chan struct{}
	once  sync.Once
}

// bounded is c's context limited by --timeout, and a waiter saying, on
// stderr, what the command waits for. Call done when the waiting is over.
func bounded(c *cli.Context, what string) (ctx context.Context, w *waiter, done func()) {
	limit := c.Duration("timeout")
	ctx, cancel := context.WithTimeout(c.Context, limit)
	w = &waiter{what: what, start: time.Now(), stop: make(chan struct{})}
	go w.run(c.App.ErrWriter, limit)
	return ctx, w, func() { w.once.Do(func() { close(w.stop) }); cancel() }
}

// Set names what is waited for now.
func (w *waiter) Set(what string) {
	w.mu.Lock()
	w.what = what
	w.mu.Unlock()
}

func (w *waiter) run(out io.Writer, limit time.Duration) {
	next := waitAfter
	for {
		select {
		case <-w.stop:
			return
		case <-time.After(time.Until(w.start.Add(next))):
		}
		w.mu.Lock()
		what := w.what
		w.mu.Unlock()
		fmt.Fprintf(out, "ehos: waiting for %s (%s so far; gives up after %s, --timeout)\n", what, time.Since(w.start).Round(time.Second), limit)
		next += 10 * time.Second
	}
}
