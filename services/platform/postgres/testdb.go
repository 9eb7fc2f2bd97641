package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
)

// AdminURL is the server the tests and the local tooling create databases on. TEST_DATABASE_URL
// overrides it; the default is the local server make infra provides.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// CreateDatabase creates a database named prefix_<random> on the admin server, owned by a role of the
// same name that alone may connect to it (Provision), and returns its URL, as that role, and a
// function that drops both.
func CreateDatabase(ctx context.Context, prefix string) (string, func(context.Context) error, error) {
	admin := AdminURL()
	name := strings.ToLower(prefix) + "_" + randomHex(6)
	password := randomHex(16)
	if err := Provision(ctx, admin, name, name, password); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", nil, err
	}
	u.Path, u.User = "/"+name, url.UserPassword(name, password)
	drop := func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		if _, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return err
		}
		_, err = c.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{name}.Sanitize())
		return err
	}
	return u.String(), drop, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CreateDatabases creates a database for each app (CreateDatabase with prefix_<app>) and returns
// their URLs by app, and one function that drops them all; on an error, those made are dropped.
func CreateDatabases(ctx context.Context, prefix string, apps ...string) (map[string]string, func(context.Context), error) {
	urls := map[string]string{}
	var drops []func(context.Context) error
	dropAll := func(ctx context.Context) {
		for _, d := range drops {
			_ = d(ctx)
		}
	}
	for _, app := range apps {
		url, drop, err := CreateDatabase(ctx, prefix+"_"+app)
		if err != nil {
			dropAll(ctx)
			return nil, nil, err
		}
		urls[app], drops = url, append(drops, drop)
	}
	return urls, dropAll, nil
}
