// Command api is the Vacancy server and its admin tool: `api serve`, `api migrate`,
// `api orgs create` and `api help`. Everything lives behind run so the whole
// program is testable in-process.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // IANA zones for organisations, also in a scratch image

	"github.com/vacancy-dev/vacancy/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // the first signal starts a graceful shutdown; a second one ends the process at once
	}()
	if err := app.Run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		stop()
		os.Exit(1)
	}
}
