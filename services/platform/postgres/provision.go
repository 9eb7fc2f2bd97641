package postgres

import (
	"context"
	"fmt"
	"net/url"
	"regexp"

	"github.com/jackc/pgx/v5"
)

// Provision makes database db on the server at adminURL the private database of role: the role logs
// in with password, owns db (so its migrations create and alter what they need), and is the only role
// besides superusers that may connect to it — CONNECT and TEMPORARY are revoked from PUBLIC. Each
// service has its own role and database, so one service's credentials reach no other's data.
// Provision is idempotent: an existing role gets the password, an existing database the owner, and
// what an earlier setup created in it as another user passes to the role.
func Provision(ctx context.Context, adminURL, db, role, password string) error {
	if !identifier.MatchString(db) || !identifier.MatchString(role) {
		return fmt.Errorf("provision: %q and %q must be lower-case identifiers", db, role)
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect %s: %w", redact(adminURL), err)
	}
	defer conn.Close(ctx)
	r, d := pgx.Identifier{role}.Sanitize(), pgx.Identifier{db}.Sanitize()
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, role).Scan(&exists); err != nil {
		return err
	}
	verb := "CREATE"
	if exists {
		verb = "ALTER"
	}
	// A password cannot be a bind parameter in CREATE ROLE; quote it as a literal.
	lit, err := quoteLiteral(ctx, conn, password)
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, verb+" ROLE "+r+" LOGIN PASSWORD "+lit); err != nil {
		return fmt.Errorf("%s role %s: %w", verb, role, err)
	}
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, db).Scan(&exists); err != nil {
		return err
	}
	stmts := []string{"CREATE DATABASE " + d + " OWNER " + r}
	if exists {
		stmts = []string{"ALTER DATABASE " + d + " OWNER TO " + r}
	}
	stmts = append(stmts, "REVOKE CONNECT, TEMPORARY ON DATABASE "+d+" FROM PUBLIC", "GRANT CONNECT, TEMPORARY ON DATABASE "+d+" TO "+r)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	if !exists {
		return nil
	}
	// A database made before roles existed holds tables of the admin user: hand them over.
	u, err := url.Parse(adminURL)
	if err != nil {
		return err
	}
	u.Path = "/" + db
	in, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return err
	}
	defer in.Close(ctx)
	_, err = in.Exec(ctx, `DO $$
DECLARE o record;
BEGIN
  FOR o IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND pg_get_userbyid(c.relowner) <> `+lit2(role)+`
             -- a sequence of a column goes with its table
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) LOOP
    EXECUTE format('ALTER %s public.%I OWNER TO %I',
      CASE o.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, o.relname, `+lit2(role)+`);
  END LOOP;
END $$`)
	if err != nil {
		return fmt.Errorf("hand %s's tables to %s: %w", db, role, err)
	}
	_, err = in.Exec(ctx, "ALTER SCHEMA public OWNER TO "+r)
	return err
}

func quoteLiteral(ctx context.Context, conn *pgx.Conn, s string) (string, error) {
	var q string
	err := conn.QueryRow(ctx, `SELECT quote_literal($1)`, s).Scan(&q)
	return q, err
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// lit2 quotes a role name (an identifier, checked above) as a literal.
func lit2(s string) string { return "'" + s + "'" }

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}
