// Command vacancy-dev is `make run`: a newcomer's Vacancy in one command. Without
// DATABASE_URL it starts a disposable PostgreSQL container (the same image logic as
// the tests), migrates it, seeds a demo organisation, prints a demo admin key, the
// platform token and curl lines to try, and serves until Ctrl-C, then removes the
// container. It is a separate program so the production api binary never links
// testcontainers or the Docker SDK.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata"

	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/app"
	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/dbmigrate"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vacancy-dev:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	env := map[string]string{}
	lookup := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return getenv(k)
	}
	if getenv("DATABASE_URL") == "" {
		fmt.Fprintln(stdout, "starting a disposable PostgreSQL container (set DATABASE_URL to use your own)...")
		url, stopContainer, err := pgtest.StartContainer(ctx)
		if err != nil {
			return err
		}
		defer func() {
			stopContainer()
			fmt.Fprintln(stdout, "container removed")
		}()
		env["DATABASE_URL"] = url
	}
	if getenv("VACANCY_PLATFORM_TOKEN") == "" {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		env["VACANCY_PLATFORM_TOKEN"] = "vac_platform_" + hex.EncodeToString(b)
	}
	// Webhook receivers in development run on this machine, over plain http.
	for _, k := range []string{"VACANCY_WEBHOOK_ALLOW_PRIVATE", "VACANCY_WEBHOOK_ALLOW_HTTP"} {
		if getenv(k) == "" {
			env[k] = "true"
		}
	}
	cfg, err := app.LoadConfig(lookup)
	if err != nil {
		return err
	}
	if err := dbmigrate.Up(cfg.DatabaseURL); err != nil {
		return err
	}
	key, err := seed(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	base := "http://" + cfg.Addr + "/api/v3"
	fmt.Fprintf(stdout, `
Vacancy is running on http://%[1]s with a demo organisation (slug "demo").

  demo admin API key:  %[2]s
  platform token:      %[3]s

Try:
  curl -H "Authorization: Bearer %[2]s" %[4]s/organisations/demo
  curl -H "Authorization: Bearer %[2]s" "%[4]s/organisations/demo/availability?check_in=%[5]s&check_out=%[6]s&guests=2"
  curl -H "Authorization: Bearer %[3]s" -H "Content-Type: application/json" -d '{"slug":"acme","name":"Acme Stays"}' %[4]s/organisations

Ctrl-C stops the server and removes the container.

`, cfg.Addr, key, cfg.PlatformToken, base, demoCheckIn(), demoCheckOut())
	return app.Serve(ctx, cfg, stdout)
}

// seed creates the demo organisation with a few items and add-ons, or, when it
// already exists in the database, a fresh admin key for it (keys are stored hashed,
// so an old one cannot be shown again). It returns the key.
func seed(ctx context.Context, databaseURL string) (string, error) {
	d, err := scope.Open(ctx, databaseURL, scope.Config{MaxConns: 2})
	if err != nil {
		return "", err
	}
	defer d.Close()
	svc := service.New(d, service.Config{})

	// The demo organisation's id, read as the database owner: a dev-only lookup.
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	var orgID [16]byte
	err = conn.QueryRow(ctx, "SELECT id FROM organisations WHERE slug = 'demo'").Scan(&orgID)
	if err == nil {
		sc := scope.Scope{OrganisationID: orgID, Role: scope.RoleAdmin}
		meta, _ := command.NewMeta("", [16]byte{}, nil, time.Now())
		cmd, err := tenancy.NewCreateAPIKey(meta, tenancy.CreateAPIKeyInput{Name: "make run", Role: "admin"})
		if err != nil {
			return "", err
		}
		k, _, err := svc.CreateAPIKey(ctx, sc, cmd)
		return k.Key, err
	}
	if err != pgx.ErrNoRows {
		return "", fmt.Errorf("look for the demo organisation: %w", err)
	}
	org, err := app.CreateOrganisation(ctx, svc, "demo", "Demo Stays", "EUR", "Europe/Amsterdam", 30)
	if err != nil {
		return "", err
	}
	sc := scope.Scope{OrganisationID: org.ID, ActorID: org.APIKey.ID, Role: scope.RoleAdmin}
	items := []struct {
		name          string
		capacity      int32
		price         int64
		addon         string
		addonPrice    int64
		addonPer      string
		addonQuantity int32
	}{
		{"Harbour View Double", 2, 12900, "Breakfast", 1500, catalogue.PerNight, 2},
		{"Family Loft", 4, 18900, "Cot", 1000, catalogue.PerBooking, 1},
		{"Canal House (whole property)", 8, 54000, "Late check-out", 4000, catalogue.PerBooking, 1},
		{"Hot Desk", 1, 2500, "Locker", 300, catalogue.PerNight, 1},
	}
	for _, it := range items {
		meta, _ := command.NewMeta("", sc.ActorID, nil, time.Now())
		cmd, err := catalogue.NewCreateItem(meta, catalogue.ItemInput{Name: &it.name, Capacity: &it.capacity, NightlyPrice: &it.price})
		if err != nil {
			return "", err
		}
		created, _, err := svc.CreateItem(ctx, sc, cmd)
		if err != nil {
			return "", fmt.Errorf("seed item %s: %w", it.name, err)
		}
		meta, _ = command.NewMeta("", sc.ActorID, nil, time.Now())
		acmd, err := catalogue.NewCreateAddon(meta, created.ID, catalogue.AddonInput{Name: it.addon, Price: &it.addonPrice, Per: it.addonPer, MaxQuantity: &it.addonQuantity})
		if err != nil {
			return "", err
		}
		if _, _, err := svc.CreateAddon(ctx, sc, acmd); err != nil {
			return "", fmt.Errorf("seed add-on %s: %w", it.addon, err)
		}
	}
	return org.APIKey.Key, nil
}
