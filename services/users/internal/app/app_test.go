package app_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/users/internal/adapters"
	"github.com/acme/platform/services/users/internal/app"
	"github.com/acme/platform/services/users/internal/domain/user"
)

// In-memory stand-ins for the ports; the tokens are the real EdDSA adapter with a key of the test's.

type memUsers struct {
	mu           sync.Mutex
	byID         map[string]user.User
	hashes       map[string]string
	events       []outbox.Event
	bootstrapped bool
}

func (m *memUsers) Create(_ context.Context, u user.User, hash string, evs []outbox.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.byID {
		if o.Email == u.Email {
			return errs.Conflict("user.email_taken", "an account with this email exists")
		}
	}
	m.byID[u.ID], m.hashes[u.ID] = u, hash
	m.events = append(m.events, evs...)
	return nil
}

func (m *memUsers) ByEmail(_ context.Context, email string) (user.User, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range m.byID {
		if u.Email == email {
			return u, m.hashes[u.ID], nil
		}
	}
	return user.User{}, "", errs.NotFound("user.not_found", "no such user")
}

func (m *memUsers) ByID(_ context.Context, id string) (user.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.byID[id]
	if !ok {
		return u, errs.NotFound("user.not_found", "no such user")
	}
	return u, nil
}

func (m *memUsers) PasswordHash(_ context.Context, id string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hashes[id], nil
}

func (m *memUsers) change(id string, evs []outbox.Event, fn func(*user.User)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.byID[id]
	fn(&u)
	m.byID[id] = u
	m.events = append(m.events, evs...)
	return nil
}

func (m *memUsers) MarkVerified(_ context.Context, id string, evs []outbox.Event) error {
	return m.change(id, evs, func(u *user.User) { u.EmailVerified = true })
}

func (m *memUsers) SetPassword(_ context.Context, id, hash string, evs []outbox.Event) error {
	return m.change(id, evs, func(*user.User) { m.hashes[id] = hash })
}

func (m *memUsers) SetRoles(_ context.Context, id string, roles []string, evs []outbox.Event) error {
	return m.change(id, evs, func(u *user.User) { u.Roles = roles })
}

func (m *memUsers) ClaimBootstrap(_ context.Context, id string, roles []string, evs []outbox.Event) (bool, error) {
	m.mu.Lock()
	claimed := m.bootstrapped
	m.bootstrapped = true
	m.mu.Unlock()
	if claimed {
		return false, nil
	}
	return true, m.change(id, evs, func(u *user.User) { u.Roles = roles })
}

func (m *memUsers) Erase(_ context.Context, id string, evs []outbox.Event) error {
	return m.change(id, evs, func(u *user.User) { u.Email, u.DisplayName = "", "" })
}

func (m *memUsers) Record(_ context.Context, evs []outbox.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, evs...)
	return nil
}

func (m *memUsers) Scan(context.Context, string, int) ([]app.Scanned, error) { return nil, nil }

func (m *memUsers) event(typ string) (events.Envelope, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.events) - 1; i >= 0; i-- {
		if m.events[i].Envelope.Type == typ && m.events[i].Topic == events.TopicUsers {
			return m.events[i].Envelope, true
		}
	}
	return events.Envelope{}, false
}

// memSessions versions each session; Replace needs the version read, as the Dapr adapter's ETag.
type memSessions struct {
	mu       sync.Mutex
	sessions map[string]app.Session
	versions map[string]int
}

func (m *memSessions) Create(_ context.Context, s app.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[s.ID], m.versions[s.ID] = s, 1
	return nil
}

func (m *memSessions) Get(_ context.Context, id string) (app.Session, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return s, "", errs.NotFound("session.not_found", "no such session")
	}
	return s, fmt.Sprint(m.versions[id]), nil
}

func (m *memSessions) Replace(_ context.Context, s app.Session, etag string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sessions[s.ID]; !ok || fmt.Sprint(m.versions[s.ID]) != etag {
		return errs.Conflict("session.changed", "the session changed concurrently")
	}
	m.sessions[s.ID] = s
	m.versions[s.ID]++
	return nil
}

func (m *memSessions) Delete(_ context.Context, _, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, id)
	return nil
}

func (m *memSessions) ListForUser(_ context.Context, userID string) ([]app.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []app.Session
	for _, s := range m.sessions {
		if s.UserID == userID {
			out = append(out, s)
		}
	}
	return out, nil
}

func (m *memSessions) DeleteAllForUser(_ context.Context, userID, keep string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, s := range m.sessions {
		if s.UserID == userID && id != keep {
			delete(m.sessions, id)
		}
	}
	return nil
}

type memAttempts struct {
	mu    sync.Mutex
	fails map[string]int
	max   int
}

func (m *memAttempts) Reserve(_ context.Context, keys []string) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		if m.fails[k] >= m.max {
			return time.Minute, nil
		}
	}
	for _, k := range keys {
		m.fails[k]++
	}
	return 0, nil
}

func (m *memAttempts) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fails[key] > 0 {
		m.fails[key]--
	}
	return nil
}

func (m *memAttempts) Reset(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.fails, key)
	return nil
}

type memResets struct {
	mu      sync.Mutex
	tokens  map[string]string
	current map[string]string // user → their one outstanding hash
}

func (m *memResets) Save(_ context.Context, hash, userID string, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.current == nil {
		m.current = map[string]string{}
	}
	delete(m.tokens, m.current[userID])
	m.tokens[hash], m.current[userID] = userID, hash
	return nil
}

func (m *memResets) Peek(_ context.Context, hash string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.tokens[hash]
	if !ok {
		return "", errs.NotFound("auth.reset_token_unknown", "no such reset token")
	}
	return id, nil
}

func (m *memResets) RevokeAll(_ context.Context, userID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.tokens, m.current[userID])
	delete(m.current, userID)
	return nil
}

func (m *memResets) Take(_ context.Context, hash string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.tokens[hash]
	if !ok {
		return "", errs.NotFound("auth.reset_token_unknown", "no such reset token")
	}
	delete(m.tokens, hash)
	return id, nil
}

// plainHasher is no hash at all: the argon2id adapter has tests of its own, and is slow by design.
type plainHasher struct{}

func (plainHasher) Hash(p string) (string, error)          { return "plain:" + p, nil }
func (plainHasher) Verify(p, encoded string) (bool, error) { return encoded == "plain:"+p, nil }

type world struct {
	svc         *app.Service
	users       *memUsers
	sessions    *memSessions
	revocations *memRevocations
}

// memRevocations is the revocation feed in memory.
type memRevocations struct {
	mu   sync.Mutex
	rows []app.Revocation
}

func (m *memRevocations) Record(_ context.Context, ids []string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		m.rows = append(m.rows, app.Revocation{SessionID: id, RevokedAt: time.Now(), ExpiresAt: until})
	}
	return nil
}

func (m *memRevocations) Since(_ context.Context, since time.Time, limit int) ([]app.Revocation, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []app.Revocation
	for _, r := range m.rows {
		if !r.RevokedAt.Before(since) && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, time.Now(), nil
}

func (m *memRevocations) Purge(context.Context, time.Time) (int64, error) { return 0, nil }

// revoked reports whether the session's revocation was recorded.
func (m *memRevocations) revoked(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.ContainsFunc(m.rows, func(r app.Revocation) bool { return r.SessionID == id })
}

// sessionOf is the session id an access token belongs to.
func (w world) sessionOf(t *testing.T, token string) string {
	t.Helper()
	c, err := w.svc.Validate(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return c.SessionID
}

func newWorld(t *testing.T) world {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := adapters.NewJWTTokens("test", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	if err != nil {
		t.Fatal(err)
	}
	w := world{users: &memUsers{byID: map[string]user.User{}, hashes: map[string]string{}},
		sessions: &memSessions{sessions: map[string]app.Session{}, versions: map[string]int{}}, revocations: &memRevocations{}}
	w.svc, err = app.New(w.users, w.sessions, &memAttempts{fails: map[string]int{}, max: 3},
		&memResets{tokens: map[string]string{}}, plainHasher{}, tokens, w.revocations)
	if err != nil {
		t.Fatal(err)
	}
	w.svc.BootstrapAdmins = map[string]bool{"root@example.com": true}
	return w
}

const password = "correct horse battery staple"

func (w world) register(t *testing.T, email string) user.User {
	t.Helper()
	u, err := w.svc.Register(context.Background(), email, password, "Test User", "eu")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (w world) login(t *testing.T, email, pw string) app.LoginResult {
	t.Helper()
	r, err := w.svc.Login(context.Background(), email, pw)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	return errs.As(err).Code
}

func TestRegister_ValidatesAndMakesBootstrapAdmins(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, tc := range []struct {
		email, password, name, region, code string
	}{
		{"not-an-email", password, "A", "eu", "user.email_invalid"},
		{"a@example.com", "short", "A", "eu", "user.password_too_short"},
		{"a@example.com", password, "", "eu", "user.display_name_required"},
		{"a@example.com", password, "A", "mars", "user.region_invalid"},
	} {
		if _, err := w.svc.Register(ctx, tc.email, tc.password, tc.name, tc.region); codeOf(err) != tc.code {
			t.Errorf("%+v: %v", tc, err)
		}
	}
	if len(w.users.byID) != 0 || len(w.users.events) != 0 {
		t.Fatal("a refused registration wrote something")
	}
	u := w.register(t, "Ada@Example.com")
	if u.Email != "ada@example.com" || !slices.Equal(u.Roles, []string{user.RoleMember}) {
		t.Fatalf("registered %+v", u)
	}
	// Issue 11, item 7: the event carries no usable secret; notifications asks for the token.
	if e, ok := w.users.event("user.registered"); !ok || e.Payload.(events.UserRegistered).VerificationToken != "" {
		t.Fatal("user.registered carries a verification token")
	}
	if _, _, err := w.svc.IssueMailToken(ctx, caller.Caller{UserID: u.ID}, u.ID, app.PurposeVerifyEmail); codeOf(err) != "user.system_only" {
		t.Fatalf("a user issued a mail token: %v", err)
	}
	if _, err := ctxRegister(w, "ada@example.com"); codeOf(err) != "user.email_taken" {
		t.Fatalf("a second account for one email: %v", err)
	}
	// Issue 11, item 6: a listed address is a member until it is verified, then the first admin —
	// once ever: a second listed address verified later stays a member.
	root := w.register(t, "root@example.com")
	if slices.Contains(root.Roles, user.RoleAdmin) {
		t.Fatal("a bootstrap address was admin before its email was verified")
	}
	if root = w.verify(t, root); !slices.Contains(root.Roles, user.RoleAdmin) {
		t.Fatalf("the verified bootstrap address did not get admin: %v", root.Roles)
	}
	if e, ok := w.users.event("user.roles_changed"); !ok || e.Actor != "system:users" {
		t.Fatalf("no roles_changed event for the bootstrap: %+v", e)
	}
	w.svc.BootstrapAdmins["second@example.com"] = true
	if second := w.verify(t, w.register(t, "second@example.com")); slices.Contains(second.Roles, user.RoleAdmin) {
		t.Fatal("a second bootstrap happened")
	}
	if u, _ := w.users.ByID(ctx, root.ID); !slices.Contains(u.Roles, user.RoleAdmin) {
		t.Fatalf("stored roles %v", u.Roles)
	}
}

// notifier is how notifications calls users for a mail's token.
var notifier = caller.Caller{UserID: "system:notifications"}

// mailToken is the token notifications would put in u's mail of purpose.
func (w world) mailToken(t *testing.T, userID, purpose string) string {
	t.Helper()
	tok, _, err := w.svc.IssueMailToken(context.Background(), notifier, userID, purpose)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// verify confirms u's email with the token its verification mail carries.
func (w world) verify(t *testing.T, u user.User) user.User {
	t.Helper()
	v, err := w.svc.VerifyEmail(context.Background(), w.mailToken(t, u.ID, app.PurposeVerifyEmail))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func ctxRegister(w world, email string) (user.User, error) {
	return w.svc.Register(context.Background(), email, password, "Again", "eu")
}

// Wrong passwords and unknown accounts get the same answer and both count; past the limit even
// the right password is refused.
func TestLogin_FailuresLookAlikeAndAreLimited(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.register(t, "ada@example.com")
	_, wrong := w.svc.Login(ctx, "ada@example.com", "wrong password here")
	_, unknown := w.svc.Login(ctx, "nobody@example.com", password)
	if codeOf(wrong) != "auth.invalid_credentials" || codeOf(unknown) != "auth.invalid_credentials" {
		t.Fatalf("wrong %v, unknown %v", wrong, unknown)
	}
	for range 2 {
		_, _ = w.svc.Login(ctx, "ada@example.com", "wrong password here")
	}
	if _, err := w.svc.Login(ctx, "ada@example.com", password); codeOf(err) != "auth.too_many_attempts" {
		t.Fatalf("after 3 failures: %v", err)
	}
}

// A refresh rotates the refresh token; presenting the old one again ends the session.
func TestRefresh_RotatesAndAReuseEndsTheSession(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.register(t, "ada@example.com")
	first := w.login(t, "ada@example.com", password)
	second, err := w.svc.Refresh(ctx, first.RefreshToken)
	if err != nil || second.RefreshToken == first.RefreshToken {
		t.Fatalf("refresh: %v", err)
	}
	if _, err := w.svc.Validate(ctx, second.AccessToken); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Refresh(ctx, first.RefreshToken); codeOf(err) != "auth.refresh_reused" {
		t.Fatalf("a reused refresh token: %v", err)
	}
	if _, err := w.svc.Refresh(ctx, second.RefreshToken); codeOf(err) != "auth.refresh_invalid" {
		t.Fatalf("the session's newest token after a reuse: %v", err)
	}
	if _, err := w.svc.Validate(ctx, second.AccessToken); codeOf(err) != "auth.invalid_token" {
		t.Fatalf("an access token of the ended session: %v", err)
	}
	for _, bad := range []string{"", "no-dot", "x.y", first.RefreshToken + "x"} {
		if _, err := w.svc.Refresh(ctx, bad); codeOf(err) != "auth.refresh_invalid" {
			t.Errorf("refresh %q: %v", bad, err)
		}
	}
}

func TestLogout_EndsTheSessionOfTheToken(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.register(t, "ada@example.com")
	a, b := w.login(t, "ada@example.com", password), w.login(t, "ada@example.com", password)
	sa, sb := w.sessionOf(t, a.AccessToken), w.sessionOf(t, b.AccessToken)
	if err := w.svc.Logout(ctx, a.AccessToken); err != nil {
		t.Fatal(err)
	}
	// The gateways' feed: the ended session is listed, the other not; only platform services read it.
	if !w.revocations.revoked(sa) || w.revocations.revoked(sb) {
		t.Fatalf("revocations after a logout: %+v", w.revocations.rows)
	}
	rows, more, _, err := w.svc.ListRevocations(ctx, caller.Caller{UserID: "system:gateway"}, time.Time{})
	if err != nil || more || len(rows) != 1 || rows[0].SessionID != sa || rows[0].ExpiresAt.Before(time.Now().Add(15*time.Minute)) {
		t.Fatalf("the feed: %+v %v %v", rows, more, err)
	}
	if _, _, _, err := w.svc.ListRevocations(ctx, caller.Caller{UserID: sb}, time.Time{}); codeOf(err) != "auth.system_only" {
		t.Fatalf("a user read the feed: %v", err)
	}
	if _, err := w.svc.Validate(ctx, a.AccessToken); codeOf(err) != "auth.invalid_token" {
		t.Fatalf("after logout: %v", err)
	}
	if _, err := w.svc.Validate(ctx, b.AccessToken); err != nil {
		t.Fatalf("another session ended too: %v", err)
	}
}

// Changing the password ends every other session; a reset ends them all, and its token works once.
func TestPasswords_ChangeAndResetEndSessions(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	u := w.register(t, "ada@example.com")
	keep, other := w.login(t, "ada@example.com", password), w.login(t, "ada@example.com", password)
	c, err := w.svc.Validate(ctx, keep.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	me := caller.Caller{UserID: u.ID, SessionID: c.SessionID}
	if err := w.svc.ChangePassword(ctx, me, "not it at all", "a new passphrase"); codeOf(err) != "user.current_password_wrong" {
		t.Fatalf("a wrong current password: %v", err)
	}
	if err := w.svc.ChangePassword(ctx, me, password, password); codeOf(err) != "user.password_unchanged" {
		t.Fatalf("the same password: %v", err)
	}
	otherSession := w.sessionOf(t, other.AccessToken)
	if err := w.svc.ChangePassword(ctx, me, password, "a new passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Validate(ctx, other.AccessToken); err == nil {
		t.Fatal("another session survived a password change")
	}
	if !w.revocations.revoked(otherSession) || w.revocations.revoked(c.SessionID) {
		t.Fatalf("revocations after a password change: %+v", w.revocations.rows)
	}
	if _, err := w.svc.Validate(ctx, keep.AccessToken); err != nil {
		t.Fatalf("the changing session ended: %v", err)
	}

	// Reset: an unknown address is no error and mails nothing.
	if err := w.svc.RequestPasswordReset(ctx, "nobody@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.users.event("user.password_reset_requested"); ok {
		t.Fatal("a reset for an unknown address produced a token")
	}
	if err := w.svc.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	if e, _ := w.users.event("user.password_reset_requested"); e.Payload.(events.PasswordResetRequested).Token != "" {
		t.Fatal("the reset event carries its token")
	}
	token := w.mailToken(t, u.ID, app.PurposeResetPassword)
	if err := w.svc.ConfirmPasswordReset(ctx, token, "short"); codeOf(err) != "user.password_too_short" {
		t.Fatalf("a weak password: %v", err)
	}
	if err := w.svc.ConfirmPasswordReset(ctx, token, "the reset passphrase"); err != nil {
		t.Fatalf("the token after a refused weak password: %v", err)
	}
	if err := w.svc.ConfirmPasswordReset(ctx, token, "another passphrase"); codeOf(err) != "auth.reset_token_invalid" {
		t.Fatalf("a used token: %v", err)
	}
	if _, err := w.svc.Validate(ctx, keep.AccessToken); err == nil {
		t.Fatal("a session survived a reset")
	}
	if !w.revocations.revoked(c.SessionID) {
		t.Fatal("the reset's ended session is not in the feed")
	}
	w.login(t, "ada@example.com", "the reset passphrase")
}

func TestSetRoles_AdminsOnlyAndNoSelfDemotion(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	root := w.verify(t, w.register(t, "root@example.com"))
	ada := w.register(t, "ada@example.com")
	admin := caller.Caller{UserID: root.ID, Roles: root.Roles}
	member := caller.Caller{UserID: ada.ID, Roles: ada.Roles}
	for _, tc := range []struct {
		name  string
		by    caller.Caller
		id    string
		roles []string
		code  string
	}{
		{"a member", member, root.ID, []string{"member"}, "user.admin_only"},
		{"an unknown role", admin, ada.ID, []string{"member", "root"}, "user.role_invalid"},
		{"without member", admin, ada.ID, []string{"admin"}, "user.role_invalid"},
		{"an admin demoting themself", admin, root.ID, []string{"member"}, "user.self_demotion"},
		{"an admin promoting", admin, ada.ID, []string{"member", "admin"}, ""},
	} {
		if _, err := w.svc.SetRoles(ctx, tc.by, tc.id, tc.roles); codeOf(err) != tc.code {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.code)
		}
	}
	if u, _ := w.users.ByID(ctx, ada.ID); !slices.Contains(u.Roles, "admin") || strings.Join(u.Roles, ",") == "" {
		t.Fatalf("roles after promotion: %v", u.Roles)
	}
}

func (m *memUsers) count(typ string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, e := range m.events {
		if e.Envelope.Type == typ && e.Topic == events.TopicUsers {
			n++
		}
	}
	return n
}

// Issue 11, items 4 and 8: reset mail is bounded per account; a refused weak password leaves the
// token as it was; one token is outstanding at a time, and a password set by any way ends it.
func TestPasswordReset_BoundedOneOutstandingAndEndedByAPasswordChange(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	u := w.register(t, "ada@example.com")
	tokenOf := func() string { return w.mailToken(t, u.ID, app.PurposeResetPassword) }
	if err := w.svc.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	first := tokenOf()
	if err := w.svc.ConfirmPasswordReset(ctx, first, "password1234"); codeOf(err) != "user.password_weak" {
		t.Fatalf("a common password: %v", err)
	}
	if err := w.svc.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	second := tokenOf()
	if err := w.svc.ConfirmPasswordReset(ctx, first, "a fine new passphrase"); codeOf(err) != "auth.reset_token_invalid" {
		t.Fatalf("the token a newer request replaced: %v", err)
	}
	// A password change ends the outstanding token.
	c, err := w.svc.Validate(ctx, w.login(t, "ada@example.com", password).AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.svc.ChangePassword(ctx, caller.Caller{UserID: u.ID, SessionID: c.SessionID}, password, "a changed passphrase"); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.ConfirmPasswordReset(ctx, second, "a fine new passphrase"); codeOf(err) != "auth.reset_token_invalid" {
		t.Fatalf("a token from before the password change: %v", err)
	}
	// The bound (3 per hour in this world): more requests answer the same and mail nothing.
	for range 5 {
		if err := w.svc.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.users.count("user.password_reset_requested"); n != 3 {
		t.Fatalf("%d reset mails, want 3", n)
	}
}
