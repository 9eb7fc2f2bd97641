// Package httpapi is the gateway's REST API: the routes of contracts/openapi/acme.yaml, each turned
// into a gRPC call on a backend through Dapr service invocation.
package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	filesv1 "github.com/acme/platform/contracts/gen/go/acme/files/v1"

	billingv1 "github.com/acme/platform/contracts/gen/go/acme/billing/v1"

	"github.com/gin-contrib/cors"
	"github.com/gin-gonic/gin"
	"github.com/tus/tusd/v2/pkg/handler"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	auditv1 "github.com/acme/platform/contracts/gen/go/acme/audit/v1"
	notificationsv1 "github.com/acme/platform/contracts/gen/go/acme/notifications/v1"
	opsv1 "github.com/acme/platform/contracts/gen/go/acme/ops/v1"
	privacyv1 "github.com/acme/platform/contracts/gen/go/acme/privacy/v1"
	projectsv1 "github.com/acme/platform/contracts/gen/go/acme/projects/v1"
	searchv1 "github.com/acme/platform/contracts/gen/go/acme/search/v1"
	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/gateway/internal/tokens"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/telemetry"
)

// API holds the backends the routes call.
type API struct {
	Users usersv1.UsersServiceClient
	// Tokens verifies access tokens in the gateway with users' keys and revocation feed; nil (or
	// no verdict) asks users per request.
	Tokens   *tokens.Verifier
	Projects projectsv1.ProjectsServiceClient
	Audit    auditv1.AuditServiceClient
	// Preferences are the caller's notification choices (notifications).
	Preferences notificationsv1.PreferencesServiceClient
	Search      searchv1.SearchServiceClient
	// Webhooks are the projects' customer webhooks (notifications).
	Webhooks notificationsv1.WebhooksServiceClient
	Billing  billingv1.BillingServiceClient
	Files    filesv1.FilesServiceClient
	// MaxUploadBytes bounds a file upload (the files service bounds it again); UploadTimeout bounds
	// its call (default 10 min).
	MaxUploadBytes int64
	// MaxResumableBytes bounds a resumable (tus) upload; the files service bounds it again.
	MaxResumableBytes int64
	tusHandler        *handler.UnroutedHandler
	UploadTimeout     time.Duration
	// DeadLetters are the apps that consume events, by app id.
	DeadLetters map[string]opsv1.DeadLetterServiceClient
	// PersonalData are the apps that hold personal data, by app id, for exports.
	PersonalData map[string]privacyv1.PersonalDataServiceClient
	Log          *slog.Logger
	// Ready reports whether the gateway can serve: its sidecar is up.
	Ready func(*http.Request) error
	// BackendTimeout bounds each backend call (default 10s).
	BackendTimeout time.Duration
	// Limits are the shared rate limits; nil disables them.
	Limits *RateLimits
	// CORS is the cross-origin policy; no origins means no CORS headers.
	CORSOrigins []string
	// TrustedProxies may set X-Forwarded-For; nobody else can choose the client address that the
	// per-address rate limit counts.
	TrustedProxies []string
}

// Handler returns the gateway's HTTP handler, traced with OpenTelemetry. A client's traceparent and
// tracestate are continued (its trace id kept; whether to record is the gateway's choice, see
// telemetry.Edge); its baggage is not taken in: key-values from outside would otherwise travel
// with every call and event of the request, to every service.
func (a *API) Handler() http.Handler { return traced(a.Engine()) }

func traced(h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, "gateway", otelhttp.WithPropagators(propagation.TraceContext{}))
}

// Engine returns the routes; Engine().Routes() is what the OpenAPI parity test compares.
func (a *API) Engine() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	if a.BackendTimeout == 0 {
		a.BackendTimeout = 10 * time.Second
	}
	r := gin.New()
	if err := r.SetTrustedProxies(a.TrustedProxies); err != nil {
		a.Log.Error("trusted proxies ignored", "error", err)
		_ = r.SetTrustedProxies(nil)
	}
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	r.Use(a.requestID, a.accessLog, a.recover)
	if len(a.CORSOrigins) > 0 {
		r.Use(cors.New(cors.Config{
			AllowOrigins: a.CORSOrigins,
			AllowMethods: []string{"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"},
			AllowHeaders: []string{"Authorization", "Content-Type", "If-Match", "X-Request-Id",
				"Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Metadata"},
			ExposeHeaders: []string{"ETag", "Location", "X-Request-Id", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
				"Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size", "Upload-Offset", "Upload-Length", "Acme-File-Id", "Acme-File-State"},
			AllowCredentials: false,
			MaxAge:           10 * time.Minute,
		}))
	}
	r.Use(limitBody)
	r.NoRoute(func(c *gin.Context) { fail(c, errs.NotFound("route.not_found", "no such route")) })
	r.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, ErrorBody{Error: ErrorDetail{Code: "route.method_not_allowed",
			Message: "this route does not accept " + c.Request.Method, RequestID: requestID(c)}})
	})

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", a.readyz)

	var authLimit, apiLimit gin.HandlerFunc = pass, pass
	if a.Limits != nil {
		authLimit = a.Limits.limit("auth", a.Limits.Auth, byClientIP)
		apiLimit = a.Limits.limit("api", a.Limits.API, byUser)
	}
	v1 := r.Group("/v1")
	v1.POST("/users", authLimit, a.route(a.register))
	v1.POST("/auth/login", authLimit, a.route(a.login))
	v1.POST("/auth/refresh", authLimit, a.route(a.refresh))
	v1.POST("/auth/verify-email", authLimit, a.route(a.verifyEmail))
	v1.POST("/auth/password-reset", authLimit, a.route(a.requestPasswordReset))
	v1.POST("/auth/password-reset/confirm", authLimit, a.route(a.confirmPasswordReset))
	v1.POST("/auth/logout", a.authenticate, apiLimit, a.route(a.logout))

	me := v1.Group("/users/me", a.authenticate, apiLimit)
	me.GET("", a.route(a.me))
	me.DELETE("", a.route(a.eraseMe))
	me.GET("/export", a.route(a.exportMe))
	me.GET("/sessions", a.route(a.listSessions))
	me.DELETE("/sessions/:id", a.route(a.revokeSession))
	me.POST("/password", a.route(a.changePassword))
	me.GET("/notification-preferences", a.route(a.getPreferences))
	me.PUT("/notification-preferences", a.route(a.setPreferences))
	v1.PUT("/users/:id/roles", a.authenticate, apiLimit, a.route(a.setRoles))

	v1.GET("/search", a.authenticateIfPresent, apiLimit, a.route(a.search))
	v1.GET("/audit/records", a.authenticate, apiLimit, a.route(a.listAudit))
	v1.GET("/audit/verify", a.authenticate, apiLimit, a.route(a.verifyAudit))
	v1.GET("/ops/dead-letters", a.authenticate, apiLimit, a.route(a.listDeadLetters))
	v1.POST("/ops/billing/reconcile", a.authenticate, apiLimit, a.route(a.reconcileBilling))

	// Stripe's webhook deliveries: no user, the signature is the credential (billing verifies it).
	v1.POST("/billing/stripe/webhook", authLimit, a.route(a.stripeWebhook))
	if a.Files != nil && a.tusHandler == nil {
		h, err := a.newTus()
		if err != nil {
			a.Log.Error("resumable uploads unavailable", "error", err)
		}
		a.tusHandler = h
	}
	up := v1.Group("/uploads", a.authenticate, apiLimit)
	up.POST("", a.tus(func(h *handler.UnroutedHandler) http.HandlerFunc { return h.PostFile }))
	up.HEAD("/:id", a.tus(func(h *handler.UnroutedHandler) http.HandlerFunc { return h.HeadFile }))
	up.PATCH("/:id", a.tus(func(h *handler.UnroutedHandler) http.HandlerFunc { return h.PatchFile }))
	up.DELETE("/:id", a.tus(func(h *handler.UnroutedHandler) http.HandlerFunc { return h.DelFile }))

	f := v1.Group("/files", a.authenticate, apiLimit)
	f.GET("/:id", a.route(a.downloadFile))
	f.GET("/:id/metadata", a.route(a.getFile))
	f.DELETE("/:id", a.route(a.deleteFile))

	b := v1.Group("/billing", a.authenticate, apiLimit)
	b.GET("/plans", a.route(a.listPlans))
	b.GET("/subscription", a.route(a.getSubscription))
	b.POST("/subscription", a.route(a.subscribe))
	b.PATCH("/subscription", a.route(a.changePlan))
	b.POST("/subscription/preview", a.route(a.previewPlanChange))
	b.POST("/subscription/cancel", a.route(a.cancelSubscription))
	b.POST("/subscription/resume", a.route(a.resumeSubscription))
	b.GET("/usage", a.route(a.getUsage))
	b.GET("/invoices", a.route(a.listInvoices))
	b.GET("/invoices/:id", a.route(a.getInvoice))

	p := v1.Group("/projects", a.authenticate, apiLimit)
	p.POST("", a.route(a.createProject))
	p.GET("", a.route(a.listProjects))
	p.GET("/search", a.route(a.searchProjects))
	p.GET("/:id", a.route(a.getProject))
	p.PATCH("/:id", a.route(a.updateProject))
	p.DELETE("/:id", a.route(a.deleteProject))
	p.POST("/:id/archive", a.route(a.archiveProject(true)))
	p.POST("/:id/restore", a.route(a.archiveProject(false)))
	p.POST("/:id/transfer", a.route(a.transferProject))
	p.GET("/:id/members", a.route(a.listMembers))
	p.POST("/:id/members", a.route(a.addMember))
	p.PATCH("/:id/members/:user_id", a.route(a.updateMember))
	p.DELETE("/:id/members/:user_id", a.route(a.removeMember))
	p.POST("/:id/files", a.route(a.uploadFile))
	p.GET("/:id/files", a.route(a.listFiles))
	p.POST("/:id/webhooks", a.route(a.createWebhook))
	p.GET("/:id/webhooks", a.route(a.listWebhooks))
	p.DELETE("/:id/webhooks/:webhook_id", a.route(a.deleteWebhook))
	p.POST("/:id/webhooks/:webhook_id/enable", a.route(a.enableWebhook))
	p.GET("/:id/webhooks/:webhook_id/deliveries", a.route(a.listDeliveries))
	return r
}

func pass(c *gin.Context) { c.Next() }

const requestIDHeader = "X-Request-Id"

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,128}$`)

// requestID keeps a well-formed X-Request-Id from the client or makes one, answers with it, and puts it
// in the context that backend calls and log lines read.
func (a *API) requestID(c *gin.Context) {
	id := c.GetHeader(requestIDHeader)
	if !validRequestID.MatchString(id) {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	c.Set(requestIDHeader, id)
	c.Header(requestIDHeader, id)
	c.Request = c.Request.WithContext(telemetry.WithRequestID(c.Request.Context(), id))
	c.Next()
}

func requestID(c *gin.Context) string { return c.GetString(requestIDHeader) }

func (a *API) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	if route := c.FullPath(); route != "" {
		// The route template labels the RED metrics and names the span (OTel semantic conventions);
		// a path that matched no route stays unlabelled, so unknown paths add no series.
		ctx := c.Request.Context()
		labeler, _ := otelhttp.LabelerFromContext(ctx)
		labeler.Add(semconv.HTTPRoute(route))
		span := trace.SpanFromContext(ctx)
		span.SetName(c.Request.Method + " " + route)
		span.SetAttributes(semconv.HTTPRoute(route))
	}
	attrs := []any{"method", c.Request.Method, "path", c.Request.URL.Path, "route", c.FullPath(),
		"status", c.Writer.Status(), "duration_ms", float64(time.Since(start).Microseconds()) / 1000,
		"bytes", c.Writer.Size(), "client", c.ClientIP()}
	if len(c.Errors) > 0 {
		attrs = append(attrs, "error", c.Errors.String())
	}
	a.Log.InfoContext(c.Request.Context(), "request", attrs...)
}

// recover turns a panic into a 500 with the error body; the process and other requests carry on.
func (a *API) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			a.Log.ErrorContext(c.Request.Context(), "panic", "panic", r, "path", c.Request.URL.Path)
			fail(c, errs.Internal(nil))
		}
	}()
	c.Next()
}

func limitBody(c *gin.Context) {
	if isUpload(c) { // a file upload streams; the files service bounds it
		c.Next()
		return
	}
	if c.Request.ContentLength > MaxBodyBytes {
		fail(c, errTooLarge)
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes)
	c.Next()
}

func (a *API) readyz(c *gin.Context) {
	if a.Ready != nil {
		if err := a.Ready(c.Request); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": err.Error()})
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
