// Package app holds the users service's use cases. It depends on the interfaces declared here;
// adapters implement them and main wires them together.
package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/users/internal/domain/user"
)

// Users stores accounts. Every write takes the events to publish with it, committed atomically.
type Users interface {
	Create(ctx context.Context, u user.User, passwordHash string, evs []outbox.Event) error
	// ByEmail returns the account and its password hash; errs.KindNotFound when there is none.
	ByEmail(ctx context.Context, email string) (user.User, string, error)
	ByID(ctx context.Context, id string) (user.User, error)
	// PasswordHash returns the account's current hash.
	PasswordHash(ctx context.Context, id string) (string, error)
	MarkVerified(ctx context.Context, id string, evs []outbox.Event) error
	SetPassword(ctx context.Context, id, hash string, evs []outbox.Event) error
	SetRoles(ctx context.Context, id string, roles []string, evs []outbox.Event) error
	// ClaimBootstrap makes id the platform's first admin (roles), with evs, unless a bootstrap
	// already happened, ever; it reports whether this one did.
	ClaimBootstrap(ctx context.Context, id string, roles []string, evs []outbox.Event) (bool, error)
	// Erase anonymises the account: no email, name or password of the person remains.
	Erase(ctx context.Context, id string, evs []outbox.Event) error
	// Record publishes events that change no row (audit records of sessions).
	Record(ctx context.Context, evs []outbox.Event) error
	// Scan returns up to limit accounts that are not erased, with ids after afterID, in id order.
	Scan(ctx context.Context, afterID string, limit int) ([]Scanned, error)
}

// Scanned is what read models rebuild from: no email, no credentials.
type Scanned struct {
	ID, DisplayName string
	CreatedAt       time.Time
	Version         int64
}

// Session is a signed-in device; its rules (rotation, reuse) are the domain's.
type Session = user.Session

// Sessions keeps sessions until they expire (the store enforces the TTL), indexed by user.
type Sessions interface {
	Create(ctx context.Context, s Session) error
	// Get returns the session and its ETag; errs.KindNotFound once it ended or expired.
	Get(ctx context.Context, id string) (Session, string, error)
	// Replace saves s only if it is still at etag; errs.KindConflict when another writer won.
	Replace(ctx context.Context, s Session, etag string) error
	Delete(ctx context.Context, userID, id string) error
	ListForUser(ctx context.Context, userID string) ([]Session, error)
	// DeleteAllForUser ends every session of the user except keep ("" for none).
	DeleteAllForUser(ctx context.Context, userID, keep string) error
}

// Attempts counts failed logins per key and tells when a key must wait.
type Attempts interface {
	// Reserve counts one attempt against every key before the password is checked, atomically per
	// key: attempts in flight count, so parallel guesses cannot all pass a check made before any of
	// them failed. When a key is at its limit nothing is counted and the wait is returned.
	Reserve(ctx context.Context, keys []string) (time.Duration, error)
	// Release takes back one reserved attempt of key (the attempt succeeded).
	Release(ctx context.Context, key string) error
	Reset(ctx context.Context, key string) error
}

// ResetTokens keeps password reset tokens, by hash, until they expire; each can be taken once. An
// account has one outstanding token: saving a new one ends the one before.
type ResetTokens interface {
	Save(ctx context.Context, hash, userID string, ttl time.Duration) error
	// Peek returns the user of a live token without spending it; errs.KindNotFound if none.
	Peek(ctx context.Context, hash string) (string, error)
	// Take returns the user of the token and forgets it; errs.KindNotFound if none (or replaced).
	Take(ctx context.Context, hash string) (string, error)
	// RevokeAll forgets the user's outstanding token (the password changed).
	RevokeAll(ctx context.Context, userID string) error
}

// Hasher hashes and checks passwords.
type Hasher interface {
	Hash(password string) (string, error)
	Verify(password, encoded string) (bool, error)
}

// Claims are what an access token asserts.
type Claims struct {
	UserID    string
	SessionID string
	Roles     []string
	Region    string
	ExpiresAt time.Time
}

// Tokens issues and checks signed tokens: access tokens, and action tokens (email verification)
// that can never pass as access tokens.
type Tokens interface {
	Issue(c Claims) (string, error)
	// Parse checks signature, algorithm, issuer, audience and expiry.
	Parse(token string) (Claims, error)
	IssueAction(purpose, userID, email string, ttl time.Duration) (string, error)
	ParseAction(purpose, token string) (userID, email string, err error)
}

// Service is the users use cases.
type Service struct {
	Users       Users
	Sessions    Sessions
	Attempts    Attempts
	ResetTokens ResetTokens
	Hasher      Hasher
	Tokens      Tokens
	Revocations Revocations
	AccessTTL   time.Duration
	SessionTTL  time.Duration
	// BootstrapAdmins: the first of these addresses to be verified becomes the platform's first
	// admin, once ever (a new platform's way to its first admin; SetRoles from then on).
	BootstrapAdmins map[string]bool
	Now             func() time.Time
	// dummyHash is compared against when an email is unknown, so a login takes as long either way.
	dummyHash string
}

// New returns the service with the platform's lifetimes: 15-minute access tokens, 30-day sessions.
func New(users Users, sessions Sessions, attempts Attempts, resets ResetTokens, hasher Hasher, tokens Tokens, revocations Revocations) (*Service, error) {
	dummy, err := hasher.Hash("not-a-real-password-" + uuid.NewString())
	if err != nil {
		return nil, err
	}
	return &Service{Users: users, Sessions: sessions, Attempts: attempts, ResetTokens: resets, Hasher: hasher, Tokens: tokens,
		Revocations: revocations, AccessTTL: 15 * time.Minute, SessionTTL: 30 * 24 * time.Hour, Now: time.Now, dummyHash: dummy}, nil
}

const source = "users"

// VerificationTTL is how long the emailed verification link works.
const VerificationTTL = 24 * time.Hour

// Register opens an account and publishes user.registered (with the verification token that
// notifications mails) and its audit record, in one transaction.
func (s *Service) Register(ctx context.Context, email, password, displayName, region string) (user.User, error) {
	reg, err := user.NewRegistration(email, password, displayName, region)
	if err != nil {
		return user.User{}, err
	}
	hash, err := s.Hasher.Hash(reg.Password)
	if err != nil {
		return user.User{}, errs.Internal(err)
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	roles := []string{user.RoleMember}
	u := user.User{ID: uuid.NewString(), Email: reg.Email, DisplayName: reg.DisplayName, Region: reg.Region, Roles: roles, CreatedAt: now}
	evs := []outbox.Event{
		{Topic: events.TopicUsers, Envelope: envelope("user.registered", u.ID, u.ID, u.Region, now, 1,
			events.UserRegistered{UserID: u.ID, Email: u.Email, DisplayName: u.DisplayName})},
		audit("user.registered", u.ID, u.ID, u.Region, now, "user", "success", nil),
	}
	if err := s.Users.Create(ctx, u, hash, evs); err != nil {
		return user.User{}, err
	}
	return u, nil
}

// LoginResult is what a successful login or refresh hands back.
type LoginResult struct {
	AccessToken  string
	RefreshToken string
	ExpiresAt    time.Time
	User         user.User
}

var errBadCredentials = errs.Unauthenticated("auth.invalid_credentials", "email or password is wrong")

// Failed-login keys: per account (a hash, so the store holds no email) and per client address.
func attemptKeys(email, ip string) []string {
	sum := sha256.Sum256([]byte(email))
	keys := []string{"acct:" + hex.EncodeToString(sum[:16])}
	if ip != "" {
		keys = append(keys, "ip:"+ip)
	}
	return keys
}

// Login checks the password and opens a session. An unknown email and a wrong password get the same
// answer after the same work; too many failures for the account or the address get 429, again the
// same whether or not the email exists.
func (s *Service) Login(ctx context.Context, email, password string) (LoginResult, error) {
	e, err := user.NormalizeEmail(email)
	if err != nil || password == "" || len(password) > 4*user.MaxPasswordLength {
		return LoginResult{}, errBadCredentials
	}
	keys := attemptKeys(e, caller.ClientIP(ctx))
	wait, err := s.Attempts.Reserve(ctx, keys)
	if err != nil {
		return LoginResult{}, err
	}
	if wait > 0 {
		return LoginResult{}, TooManyAttempts(wait)
	}
	u, hash, err := s.Users.ByEmail(ctx, e)
	if errs.As(err).Kind == errs.KindNotFound {
		_, _ = s.Hasher.Verify(password, s.dummyHash)
		return LoginResult{}, s.failedLogin(ctx, keys, "", e)
	}
	if err != nil {
		return LoginResult{}, err
	}
	if ok, _ := s.Hasher.Verify(password, hash); !ok {
		return LoginResult{}, s.failedLogin(ctx, keys, u.ID, u.Region)
	}
	// A success clears the account's failures and gives the address its attempt back.
	_ = s.Attempts.Reset(ctx, keys[0])
	for _, k := range keys[1:] {
		_ = s.Attempts.Release(ctx, k)
	}
	res, err := s.openSession(ctx, u)
	if err != nil {
		return LoginResult{}, err
	}
	return res, nil
}

// failedLogin audits a failure; the attempt was counted when it was reserved.
func (s *Service) failedLogin(ctx context.Context, _ []string, userID, region string) error {
	if userID != "" {
		_ = s.Users.Record(ctx, []outbox.Event{audit("login.failed", userID, "anonymous", region, s.Now().UTC(), "session", "failure", nil)})
	}
	return errBadCredentials
}

// TooManyAttempts is the 429 of the failed-login limit; the gateway turns RetryAfter into Retry-After.
func TooManyAttempts(wait time.Duration) *errs.Error {
	return &errs.Error{Kind: errs.KindTooMany, Code: "auth.too_many_attempts",
		Message: "too many failed sign-ins; try again later", RetryAfter: wait}
}

func (s *Service) openSession(ctx context.Context, u user.User) (LoginResult, error) {
	now := s.Now().UTC()
	secret, hash := newSecret()
	sess := Session{ID: uuid.NewString(), UserID: u.ID, Roles: u.Roles, Region: u.Region, RefreshHash: hash,
		CreatedAt: now, ExpiresAt: now.Add(s.SessionTTL)}
	if err := s.Sessions.Create(ctx, sess); err != nil {
		return LoginResult{}, err
	}
	exp := now.Add(s.AccessTTL)
	tok, err := s.Tokens.Issue(Claims{UserID: u.ID, SessionID: sess.ID, Roles: u.Roles, Region: u.Region, ExpiresAt: exp})
	if err != nil {
		return LoginResult{}, errs.Internal(err)
	}
	if err := s.Users.Record(ctx, []outbox.Event{audit("session.started", sess.ID, u.ID, u.Region, now, "session", "success", nil)}); err != nil {
		return LoginResult{}, err
	}
	return LoginResult{AccessToken: tok, RefreshToken: sess.ID + "." + secret, ExpiresAt: exp, User: u}, nil
}

// newSecret returns 32 random bytes, encoded, and the hex SHA-256 of the encoding.
func newSecret() (secret, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, hashOf(secret)
}

func hashOf(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

var errInvalidToken = errs.Unauthenticated("auth.invalid_token", "the access token is invalid, expired or revoked")

// Validate checks an access token and that its session is still open.
func (s *Service) Validate(ctx context.Context, token string) (Claims, error) {
	c, err := s.Tokens.Parse(token)
	if err != nil {
		return Claims{}, errInvalidToken
	}
	sess, _, err := s.Sessions.Get(ctx, c.SessionID)
	if errs.As(err).Kind == errs.KindNotFound {
		return Claims{}, errInvalidToken
	}
	if err != nil {
		return Claims{}, err
	}
	if sess.UserID != c.UserID {
		return Claims{}, errInvalidToken
	}
	// Roles come from the session, not the token; a role change ends the sessions that carry old ones.
	c.Roles = sess.Roles
	return c, nil
}

// Logout ends the session of a valid access token.
func (s *Service) Logout(ctx context.Context, token string) error {
	c, err := s.Validate(ctx, token)
	if err != nil {
		return err
	}
	if err := s.endSession(ctx, c.UserID, c.SessionID); err != nil {
		return err
	}
	return s.Users.Record(ctx, []outbox.Event{audit("session.ended", c.SessionID, c.UserID, c.Region, s.Now().UTC(), "session", "success", nil)})
}

// Get returns one account.
func (s *Service) Get(ctx context.Context, id string) (user.User, error) {
	if _, err := uuid.Parse(id); err != nil {
		return user.User{}, errs.NotFound("user.not_found", "no such user")
	}
	return s.Users.ByID(ctx, id)
}

func envelope(typ, subject, actor, region string, at time.Time, version int64, payload any) events.Envelope {
	if region != user.RegionEU {
		region = user.RegionUS
	}
	return events.Envelope{EventID: uuid.NewString(), Type: typ, OccurredAt: at, Subject: subject, Actor: actor,
		Region: region, AggregateVersion: version, Payload: payload}
}

// published is what the domain's events become: the event others react to on acme.users.events,
// where there is one, and the audit record.
func published(evs []user.Event) []outbox.Event {
	var out []outbox.Event
	for _, e := range evs {
		var details map[string]string
		switch e.Type {
		case "user.roles_changed":
			out = append(out, outbox.Event{Topic: events.TopicUsers, Envelope: envelope(e.Type, e.Subject, e.Actor, e.Region, e.At, 0,
				events.RolesChanged{UserID: e.Subject, Roles: e.Roles})})
			details = map[string]string{"roles": strings.Join(e.Roles, ",")}
		case "session.refresh_reused":
		default:
			panic("users: no wire form for domain event " + e.Type)
		}
		out = append(out, audit(e.Type, e.Subject, e.Actor, e.Region, e.At, e.Resource, e.Outcome, details))
	}
	return out
}

func audit(typ, subject, actor, region string, at time.Time, resource, outcome string, details map[string]string) outbox.Event {
	if details == nil {
		details = map[string]string{}
	}
	return outbox.Event{Topic: events.TopicAudit, Envelope: envelope(typ, subject, actor, region, at, 0,
		events.AuditDetails{Source: source, ResourceType: resource, Outcome: outcome, Details: details})}
}

// splitRefresh reads "<session id>.<secret>".
func splitRefresh(token string) (string, string, bool) {
	id, secret, ok := strings.Cut(token, ".")
	if !ok || secret == "" {
		return "", "", false
	}
	if _, err := uuid.Parse(id); err != nil {
		return "", "", false
	}
	return id, secret, true
}
