package postgres

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Each database admits its own role and refuses every other service's, in both directions.
func TestProvision_ARoleReachesItsOwnDatabaseOnly(t *testing.T) {
	ctx := context.Background()
	a, dropA, err := CreateDatabase(ctx, "acme_test_a")
	if err != nil {
		t.Fatal(err)
	}
	defer dropA(ctx)
	b, dropB, err := CreateDatabase(ctx, "acme_test_b")
	if err != nil {
		t.Fatal(err)
	}
	defer dropB(ctx)
	other := func(own, target string) string { // own's credentials, target's database
		u, _ := url.Parse(own)
		v, _ := url.Parse(target)
		u.Path = v.Path
		return u.String()
	}
	for _, ok := range []string{a, b} {
		c, err := pgx.Connect(ctx, ok)
		if err != nil {
			t.Fatalf("own database: %v", err)
		}
		if _, err := c.Exec(ctx, "CREATE TABLE t (id int)"); err != nil {
			t.Fatalf("the owner cannot create a table: %v", err)
		}
		c.Close(ctx)
	}
	for _, denied := range []string{other(a, b), other(b, a)} {
		c, err := pgx.Connect(ctx, denied)
		if err == nil {
			c.Close(ctx)
			t.Fatal("a role connected to another service's database")
		}
		if !strings.Contains(err.Error(), "CONNECT privilege") && !strings.Contains(err.Error(), "permission denied") {
			t.Fatalf("refused, but not for want of the privilege: %v", err)
		}
	}
}

// Running it again changes nothing it made and hands over what another user made in the database.
func TestProvision_IsIdempotentAndAdoptsExistingTables(t *testing.T) {
	ctx := context.Background()
	u, drop, err := CreateDatabase(ctx, "acme_test_c")
	if err != nil {
		t.Fatal(err)
	}
	defer drop(ctx)
	parsed, _ := url.Parse(u)
	db := strings.TrimPrefix(parsed.Path, "/")
	admin, _ := url.Parse(AdminURL())
	admin.Path = "/" + db
	c, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE TABLE made_by_admin (id serial PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	password, _ := parsed.User.Password()
	for range 2 {
		if err := Provision(ctx, AdminURL(), db, db, password); err != nil {
			t.Fatal(err)
		}
	}
	var owner string
	if err := c.QueryRow(ctx, "SELECT tableowner FROM pg_tables WHERE tablename = 'made_by_admin'").Scan(&owner); err != nil || owner != db {
		t.Fatalf("owner %q, %v", owner, err)
	}
	if err := Provision(ctx, AdminURL(), "Bad-Name", "x", "p"); err == nil {
		t.Fatal("an identifier that needs quoting was accepted")
	}
}

// CreateDatabases makes one database per app, each reachable at its URL, and drops them all.
func TestCreateDatabases_OnePerAppDroppedTogether(t *testing.T) {
	ctx := context.Background()
	urls, drop, err := CreateDatabases(ctx, "acme_test_many", "one", "two")
	if err != nil {
		t.Fatal(err)
	}
	if len(urls) != 2 || urls["one"] == urls["two"] {
		t.Fatalf("urls %v", urls)
	}
	for app, url := range urls {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatalf("%s: %v", app, err)
		}
		c.Close(ctx)
	}
	drop(ctx)
	for app, url := range urls {
		if c, err := pgx.Connect(ctx, url); err == nil {
			c.Close(ctx)
			t.Errorf("%s's database is still there after the drop", app)
		}
	}
}
