// Command devsetup prepares a developer machine's local state for the topology: the development
// secrets file (package devsecrets) and each service's PostgreSQL database. Both steps leave existing
// files and databases as they are.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/acme/platform/services/platform/postgres"

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
		if err := createDatabases(*admin, *secrets, strings.Split(*dbs, ",")); err != nil {
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

// createDatabases gives each service its own role and database (postgres.Provision): billing's role
// with the password of its secret, the others' with a random one (the local server trusts loopback
// connections, so their URLs in dapr.yaml name the role alone; on Kubernetes each comes from a secret).
func createDatabases(admin, secretsFile string, names []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, name := range names {
		password := ""
		if name == devsecrets.BillingDatabaseName {
			raw, err := devsecrets.Get(secretsFile, devsecrets.BillingDatabase, "url")
			if err != nil {
				return err
			}
			u, err := url.Parse(raw)
			if err != nil {
				return err
			}
			password, _ = u.User.Password()
		} else {
			b := make([]byte, 16)
			_, _ = rand.Read(b)
			password = hex.EncodeToString(b)
		}
		if err := postgres.Provision(ctx, admin, name, name, password); err != nil {
			return err
		}
	}
	fmt.Println("databases ready, each with its own role:", strings.Join(names, ", "))
	return nil
}
