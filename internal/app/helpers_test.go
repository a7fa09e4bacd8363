package app_test

import "github.com/vacancy-dev/vacancy/internal/app"

func loadConfig(env map[string]string) (app.Config, error) {
	return app.LoadConfig(func(k string) string { return env[k] })
}
