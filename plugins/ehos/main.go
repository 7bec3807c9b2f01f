// Command ehos is the admin CLI of ehos: render templates, check config and
// clouds, look at the pool. Each subcommand lives in its own file.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ehos-project/ehos/lib/version"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp(os.Stdout, os.Stderr).RunContext(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// newApp builds the CLI; tests run it with their own writers.
func newApp(stdout, stderr io.Writer) *cli.App {
	log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true, PartsExclude: []string{zerolog.TimestampFieldName}}).With().Logger()
	return &cli.App{
		Name:      "ehos",
		Usage:     "Elastic HTCondor OpenStack Scaling: the admin CLI",
		Version:   version.Version,
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are printed once, by main.
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			renderCommand(log),
			simulateCommand(),
		},
	}
}
