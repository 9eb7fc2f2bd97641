// Command devsetup prepares a developer machine's local state for the topology: the development
// secrets file (package devsecrets) and each service's PostgreSQL database. Both steps leave existing
// files and databases as they are.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acme/platform/deploy/local/devsecrets"
)

func main() {
	secrets := flag.String("secrets", ".data/secrets/secrets.json", "development secrets file to create")
	admin := flag.String("admin-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server to create databases on")
	dbs := flag.String("databases", "", "comma-separated databases to create")
	flag.Parse()
	if err := writeSecrets(*secrets); err != nil {
		fail(err)
	}
	if *dbs != "" {
		if err := createDatabases(*admin, strings.Split(*dbs, ",")); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "devsetup:", err)
	os.Exit(1)
}

func writeSecrets(path string) error {
	changed, err := devsecrets.Write(path)
	if changed {
		fmt.Println("wrote development secrets to", path)
	}
	return err
}

func createDatabases(admin string, names []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, name := range names {
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			continue
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
		fmt.Println("created database", name)
	}
	return nil
}
