// Package app holds the users service's use cases. It depends on the interfaces declared here;
// adapters implement them and main wires them together.
package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/google/uuid"

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
	// Record publishes events that change no row (audit records of sessions).
	Record(ctx context.Context, evs []outbox.Event) error
}

// Session is a signed-in device: access tokens name it, logout deletes it.
type Session struct {
	ID          string    `json:"id"`
	UserID      string    `json:"user_id"`
	Roles       []string  `json:"roles"`
	Region      string    `json:"region"`
	RefreshHash string    `json:"refresh_hash"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// Sessions keeps sessions until they expire (the store enforces the TTL).
type Sessions interface {
	Put(ctx context.Context, s Session, ttl time.Duration) error
	// Get returns errs.KindNotFound for a session that ended or expired.
	Get(ctx context.Context, id string) (Session, error)
	Delete(ctx context.Context, id string) error
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

// Tokens issues and checks signed access tokens.
type Tokens interface {
	Issue(c Claims) (string, error)
	// Parse checks signature, algorithm, issuer, audience and expiry.
	Parse(token string) (Claims, error)
}

// Service is the users use cases.
type Service struct {
	Users      Users
	Sessions   Sessions
	Hasher     Hasher
	Tokens     Tokens
	AccessTTL  time.Duration
	SessionTTL time.Duration
	Now        func() time.Time
	// dummyHash is compared against when an email is unknown, so a login takes as long either way.
	dummyHash string
}

// New returns the service with the platform's lifetimes: 15-minute access tokens, 30-day sessions.
func New(users Users, sessions Sessions, hasher Hasher, tokens Tokens) (*Service, error) {
	dummy, err := hasher.Hash("not-a-real-password-" + uuid.NewString())
	if err != nil {
		return nil, err
	}
	return &Service{Users: users, Sessions: sessions, Hasher: hasher, Tokens: tokens,
		AccessTTL: 15 * time.Minute, SessionTTL: 30 * 24 * time.Hour, Now: time.Now, dummyHash: dummy}, nil
}

const source = "users"

// Register opens an account and publishes user.registered with its audit record, in one transaction.
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
	u := user.User{ID: uuid.NewString(), Email: reg.Email, DisplayName: reg.DisplayName, Region: reg.Region,
		Roles: []string{user.RoleMember}, CreatedAt: now}
	evs := []outbox.Event{
		{Topic: events.TopicUsers, Envelope: envelope("user.registered", u.ID, u.ID, u.Region, now, 1,
			events.UserRegistered{UserID: u.ID, Email: u.Email, DisplayName: u.DisplayName})},
		audit("user.registered", u.ID, u.ID, u.Region, now, "user", nil),
	}
	if err := s.Users.Create(ctx, u, hash, evs); err != nil {
		return user.User{}, err
	}
	return u, nil
}

// LoginResult is what a successful login hands back.
type LoginResult struct {
	AccessToken  string
	RefreshToken string
	ExpiresAt    time.Time
	User         user.User
}

var errBadCredentials = errs.Unauthenticated("auth.invalid_credentials", "email or password is wrong")

// Login checks the password and opens a session. An unknown email and a wrong password get the same
// answer after the same work.
func (s *Service) Login(ctx context.Context, email, password string) (LoginResult, error) {
	e, err := user.NormalizeEmail(email)
	if err != nil || password == "" || len(password) > 4*user.MaxPasswordLength {
		return LoginResult{}, errBadCredentials
	}
	u, hash, err := s.Users.ByEmail(ctx, e)
	if errs.As(err).Kind == errs.KindNotFound {
		_, _ = s.Hasher.Verify(password, s.dummyHash)
		return LoginResult{}, errBadCredentials
	}
	if err != nil {
		return LoginResult{}, err
	}
	ok, err := s.Hasher.Verify(password, hash)
	if err != nil {
		return LoginResult{}, errs.Internal(err)
	}
	if !ok {
		return LoginResult{}, errBadCredentials
	}
	now := s.Now().UTC()
	refresh, refreshHash := newRefreshToken()
	sess := Session{ID: uuid.NewString(), UserID: u.ID, Roles: u.Roles, Region: u.Region, RefreshHash: refreshHash,
		CreatedAt: now, ExpiresAt: now.Add(s.SessionTTL)}
	if err := s.Sessions.Put(ctx, sess, s.SessionTTL); err != nil {
		return LoginResult{}, err
	}
	exp := now.Add(s.AccessTTL)
	tok, err := s.Tokens.Issue(Claims{UserID: u.ID, SessionID: sess.ID, Roles: u.Roles, Region: u.Region, ExpiresAt: exp})
	if err != nil {
		return LoginResult{}, errs.Internal(err)
	}
	if err := s.Users.Record(ctx, []outbox.Event{audit("session.started", sess.ID, u.ID, u.Region, now, "session", nil)}); err != nil {
		return LoginResult{}, err
	}
	return LoginResult{AccessToken: tok, RefreshToken: sess.ID + "." + refresh, ExpiresAt: exp, User: u}, nil
}

func newRefreshToken() (token, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	return token, hex.EncodeToString(sum[:])
}

var errInvalidToken = errs.Unauthenticated("auth.invalid_token", "the access token is invalid, expired or revoked")

// Validate checks an access token and that its session is still open.
func (s *Service) Validate(ctx context.Context, token string) (Claims, error) {
	c, err := s.Tokens.Parse(token)
	if err != nil {
		return Claims{}, errInvalidToken
	}
	sess, err := s.Sessions.Get(ctx, c.SessionID)
	if errs.As(err).Kind == errs.KindNotFound {
		return Claims{}, errInvalidToken
	}
	if err != nil {
		return Claims{}, err
	}
	if sess.UserID != c.UserID {
		return Claims{}, errInvalidToken
	}
	// Roles come from the session, not the token, so a role change that rewrites sessions applies at once.
	c.Roles = sess.Roles
	return c, nil
}

// Logout ends the session of a valid access token.
func (s *Service) Logout(ctx context.Context, token string) error {
	c, err := s.Validate(ctx, token)
	if err != nil {
		return err
	}
	if err := s.Sessions.Delete(ctx, c.SessionID); err != nil {
		return err
	}
	return s.Users.Record(ctx, []outbox.Event{audit("session.ended", c.SessionID, c.UserID, c.Region, s.Now().UTC(), "session", nil)})
}

// Get returns one account.
func (s *Service) Get(ctx context.Context, id string) (user.User, error) {
	if _, err := uuid.Parse(id); err != nil {
		return user.User{}, errs.NotFound("user.not_found", "no such user")
	}
	return s.Users.ByID(ctx, id)
}

func envelope(typ, subject, actor, region string, at time.Time, version int64, payload any) events.Envelope {
	return events.Envelope{EventID: uuid.NewString(), Type: typ, OccurredAt: at, Subject: subject, Actor: actor,
		Region: region, AggregateVersion: version, Payload: payload}
}

func audit(typ, subject, actor, region string, at time.Time, resource string, details map[string]string) outbox.Event {
	if details == nil {
		details = map[string]string{}
	}
	return outbox.Event{Topic: events.TopicAudit, Envelope: envelope(typ, subject, actor, region, at, 0,
		events.AuditDetails{Source: source, ResourceType: resource, Outcome: "success", Details: details})}
}
