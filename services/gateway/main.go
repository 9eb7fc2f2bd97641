// Command gateway is the platform's REST edge. Clients reach every service through it; it checks
// each bearer token with the keys and the revocation feed users publishes, limits request rates in Redis (shared by all replicas), terminates
// TLS with a certificate from the secret store, and calls backends through its Dapr sidecar.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	filesv1 "github.com/acme/platform/contracts/gen/go/acme/files/v1"

	billingv1 "github.com/acme/platform/contracts/gen/go/acme/billing/v1"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/acme/platform/contracts/consumers"
	auditv1 "github.com/acme/platform/contracts/gen/go/acme/audit/v1"
	notificationsv1 "github.com/acme/platform/contracts/gen/go/acme/notifications/v1"
	opsv1 "github.com/acme/platform/contracts/gen/go/acme/ops/v1"
	privacyv1 "github.com/acme/platform/contracts/gen/go/acme/privacy/v1"
	projectsv1 "github.com/acme/platform/contracts/gen/go/acme/projects/v1"
	searchv1 "github.com/acme/platform/contracts/gen/go/acme/search/v1"
	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/gateway/internal/httpapi"
	"github.com/acme/platform/services/gateway/internal/tokens"
	"github.com/acme/platform/services/platform/daprkit"
	"github.com/acme/platform/services/platform/server"
	"github.com/acme/platform/services/platform/telemetry"
)

// The gateway is the edge: it decides which requests are traced, whatever a client's traceparent says.
func main() { server.Main("gateway", run, telemetry.Edge()) }

func run(ctx context.Context, a *server.App) error {
	env, log := a.Env, a.Log
	var (
		addr        = server.ListenAddr(env, "8080")
		tlsPort     = env.String("TLS_PORT", "")
		tlsSecret   = env.String("TLS_SECRET", "")
		secretStore = env.String("SECRET_STORE_NAME", "secretstore")
		timeout     = env.Duration("BACKEND_TIMEOUT", 10*time.Second)
		redisAddr   = env.String("REDIS_ADDR", "")
		redisDB     = env.Int("REDIS_DB", 0)
		redisTLS    = env.Bool("REDIS_TLS", false)
		authLimit   = env.String("RATE_LIMIT_AUTH", "20/m")
		apiLimit    = env.String("RATE_LIMIT_API", "600/m")
		limitPrefix = env.String("RATE_LIMIT_PREFIX", "")
		origins     = env.List("CORS_ALLOWED_ORIGINS", nil)
		proxies     = env.List("TRUSTED_PROXIES", nil)
		// Apps that serve acme.privacy.v1 and so take part in data exports.
		personalDataApps = env.List("PERSONAL_DATA_APPS", []string{"users", "projects"})
		// The largest file upload; the files service holds the same bound.
		maxUpload    = env.Int("MAX_UPLOAD_BYTES", 100<<20)
		maxResumable = env.Int("MAX_RESUMABLE_UPLOAD_BYTES", 5<<30)
		// local: tokens are verified here with users' keys and revocation feed (users is asked only
		// when the feed is older than REVOCATION_MAX_AGE); users: every token is sent to users.
		tokenCheck    = env.String("TOKEN_VERIFICATION", "local")
		revocationAge = env.Duration("REVOCATION_MAX_AGE", time.Second)
		revocationInt = env.Duration("REVOCATION_POLL_INTERVAL", 250*time.Millisecond)
		sidecar       = daprkit.FromEnv(env)
	)
	if err := env.Err(); err != nil {
		return err
	}
	// Apps that consume events and keep dead letters (acme.ops.v1): those contracts/consumers declares.
	declared, err := consumers.Load()
	if err != nil {
		return err
	}
	consumerApps := declared.Names()
	if (tlsPort == "") != (tlsSecret == "") {
		return errors.New("TLS_PORT and TLS_SECRET go together")
	}
	var limits *httpapi.RateLimits
	if redisAddr != "" {
		auth, err := httpapi.ParseLimit(authLimit)
		if err != nil {
			return err
		}
		api, err := httpapi.ParseLimit(apiLimit)
		if err != nil {
			return err
		}
		opts := &redis.Options{Addr: redisAddr, DB: redisDB, Password: os.Getenv("REDIS_PASSWORD")}
		if redisTLS {
			host, _, _ := net.SplitHostPort(redisAddr)
			opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
		}
		rdb := redis.NewClient(opts)
		a.Closes(rdb)
		limits = &httpapi.RateLimits{Limiter: redis_rate.NewLimiter(rdb), Auth: auth, API: api, Prefix: limitPrefix, Log: log}
		log.Info("rate limits", "auth_per_address", auth.String(), "api_per_user", api.String())
	} else {
		log.Warn("REDIS_ADDR unset: no rate limits")
	}

	usersConn, err := sidecar.DialApp("users")
	if err != nil {
		return err
	}
	a.Closes(usersConn)
	projectsConn, err := sidecar.DialApp("projects")
	if err != nil {
		return err
	}
	a.Closes(projectsConn)

	auditConn, err := sidecar.DialApp("audit")
	if err != nil {
		return err
	}
	a.Closes(auditConn)

	notificationsConn, err := sidecar.DialApp("notifications")
	if err != nil {
		return err
	}
	a.Closes(notificationsConn)

	searchConn, err := sidecar.DialApp("search")
	if err != nil {
		return err
	}
	a.Closes(searchConn)

	billingConn, err := sidecar.DialApp("billing")
	if err != nil {
		return err
	}
	a.Closes(billingConn)

	filesConn, err := sidecar.DialApp("files")
	if err != nil {
		return err
	}
	a.Closes(filesConn)

	personal := map[string]privacyv1.PersonalDataServiceClient{}
	for _, app := range personalDataApps {
		conn, err := sidecar.DialApp(app)
		if err != nil {
			return err
		}
		a.Closes(conn)
		personal[app] = privacyv1.NewPersonalDataServiceClient(conn)
	}

	deadLetters := map[string]opsv1.DeadLetterServiceClient{}
	for _, app := range consumerApps {
		conn, err := sidecar.DialApp(app)
		if err != nil {
			return err
		}
		a.Closes(conn)
		deadLetters[app] = opsv1.NewDeadLetterServiceClient(conn)
	}

	usersClient := usersv1.NewUsersServiceClient(usersConn)
	var verifier *tokens.Verifier
	switch tokenCheck {
	case "local":
		if revocationInt >= revocationAge {
			return fmt.Errorf("REVOCATION_POLL_INTERVAL (%s) must be shorter than REVOCATION_MAX_AGE (%s)", revocationInt, revocationAge)
		}
		verifier = tokens.New(usersClient, log)
		verifier.Interval, verifier.MaxAge = revocationInt, revocationAge
		a.Go("token keys and revocations", verifier.Run)
	case "users":
	default:
		return fmt.Errorf("TOKEN_VERIFICATION must be local or users, not %q", tokenCheck)
	}
	api := &httpapi.API{
		DeadLetters:       deadLetters,
		PersonalData:      personal,
		Users:             usersClient,
		Tokens:            verifier,
		Projects:          projectsv1.NewProjectsServiceClient(projectsConn),
		Audit:             auditv1.NewAuditServiceClient(auditConn),
		Preferences:       notificationsv1.NewPreferencesServiceClient(notificationsConn),
		Webhooks:          notificationsv1.NewWebhooksServiceClient(notificationsConn),
		Billing:           billingv1.NewBillingServiceClient(billingConn),
		Files:             filesv1.NewFilesServiceClient(filesConn),
		MaxUploadBytes:    int64(maxUpload),
		MaxResumableBytes: int64(maxResumable),
		Search:            searchv1.NewSearchServiceClient(searchConn),
		Log:               log,
		BackendTimeout:    timeout,
		Limits:            limits,
		CORSOrigins:       origins,
		TrustedProxies:    proxies,
		Ready: func(r *http.Request) error {
			ctx, cancel := context.WithTimeout(r.Context(), time.Second)
			defer cancel()
			if err := sidecar.WaitOutbound(ctx); err != nil {
				return fmt.Errorf("dapr sidecar not ready")
			}
			return nil
		},
	}
	handler := api.Handler()
	newServer := func(addr string) *http.Server {
		return &http.Server{Addr: addr, Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 32 << 10}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return server.ServeHTTP(gctx, log, newServer(addr)) })
	if tlsPort != "" {
		cert, err := loadCertificate(ctx, sidecar, secretStore, tlsSecret)
		if err != nil {
			return err
		}
		host, _, _ := net.SplitHostPort(addr)
		srv := newServer(net.JoinHostPort(host, tlsPort))
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		g.Go(func() error { return server.ServeHTTPS(gctx, log, srv) })
	}
	return g.Wait()
}

// loadCertificate reads the TLS certificate and key (PEM, fields cert and key) from the secret store.
func loadCertificate(ctx context.Context, sidecar daprkit.Sidecar, store, name string) (tls.Certificate, error) {
	client, err := sidecar.Client(ctx)
	if err != nil {
		return tls.Certificate{}, err
	}
	defer client.Close()
	sec, err := client.GetSecret(ctx, store, name, nil)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read TLS secret %s: %w", name, err)
	}
	cert, err := tls.X509KeyPair([]byte(sec["cert"]), []byte(sec["key"]))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("TLS secret %s: %w", name, err)
	}
	return cert, nil
}
