package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"google.golang.org/protobuf/types/known/timestamppb"

	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/gateway/internal/tokens"
	"github.com/acme/platform/services/platform/accesstoken"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
)

// User is the public view of an account.
type User struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	DisplayName   string    `json:"display_name"`
	Region        string    `json:"region"`
	Roles         []string  `json:"roles"`
	CreatedAt     time.Time `json:"created_at"`
	EmailVerified bool      `json:"email_verified"`
}

var regions = map[string]usersv1.Region{"us": usersv1.Region_REGION_US, "eu": usersv1.Region_REGION_EU}

func regionName(r usersv1.Region) string {
	for k, v := range regions {
		if v == r {
			return k
		}
	}
	return ""
}

func userView(u *usersv1.User) User {
	roles := u.GetRoles()
	if roles == nil {
		roles = []string{}
	}
	return User{ID: u.GetId(), Email: u.GetEmail(), DisplayName: u.GetDisplayName(), Region: regionName(u.GetRegion()),
		Roles: roles, CreatedAt: u.GetCreatedAt().AsTime().UTC(), EmailVerified: u.GetEmailVerified()}
}

func (a *API) backend(c *gin.Context) (context.Context, context.CancelFunc) {
	timeout := a.BackendTimeout
	if isUpload(c) {
		timeout = a.uploadTimeout()
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), timeout)
	return caller.WithClientIP(ctx, c.ClientIP()), cancel
}

type registerRequest struct {
	Email       *string `json:"email"`
	Password    *string `json:"password"`
	DisplayName *string `json:"display_name"`
	Region      *string `json:"region"`
}

func (a *API) register(c *gin.Context, ctx context.Context) (answer, error) {
	var req registerRequest
	if err := decodeJSON(c, &req); err != nil {
		return answer{}, err
	}
	region, ok := regions[*req.Region]
	if !ok {
		return answer{}, errs.Invalid("user.region_invalid", "region", `region must be "us" or "eu"`)
	}
	resp, err := a.Users.Register(ctx, &usersv1.RegisterRequest{Email: *req.Email, Password: *req.Password,
		DisplayName: *req.DisplayName, Region: region})
	if err != nil {
		return answer{}, err
	}
	c.Header("Location", "/v1/users/"+resp.GetUser().GetId())
	return respond(http.StatusCreated, gin.H{"user": userView(resp.GetUser())}), nil
}

type loginRequest struct {
	Email    *string `json:"email"`
	Password *string `json:"password"`
}

func (a *API) login(c *gin.Context, ctx context.Context) (answer, error) {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return answer{}, err
	}
	resp, err := a.Users.Login(ctx, &usersv1.LoginRequest{Email: *req.Email, Password: *req.Password})
	if err != nil {
		return answer{}, err
	}
	c.Header("Cache-Control", "no-store")
	return okWith(gin.H{
		"access_token": resp.GetAccessToken(), "refresh_token": resp.GetRefreshToken(), "token_type": resp.GetTokenType(),
		"expires_at": resp.GetAccessTokenExpiresAt().AsTime().UTC(), "user": userView(resp.GetUser()),
	}), nil
}

const (
	ctxToken    = "acme.token"
	ctxIdentity = "acme.identity"
)

// authenticate checks the bearer token (the guide's step 3). A token the gateway can judge itself,
// with the keys and the revocation feed users publishes (tokens.Verifier), costs no call: a valid
// one goes straight on. Anything else takes the full path: failed authentications are counted per
// client address against the auth limit, and an address that spent it gets 429 before users is
// asked; a token the gateway cannot judge (no fresh feed, a session it has not seen) is sent to
// users. A valid token is not held to the failure limit: that limit stops guessing, and a token
// that verifies was not guessed.
func (a *API) authenticate(c *gin.Context) {
	token, present := bearerToken(c)
	verdict := tokens.Unknown
	if present && a.Tokens != nil {
		var claims accesstoken.Claims
		if claims, verdict = a.Tokens.Verify(token); verdict == tokens.Valid {
			c.Set(ctxToken, token)
			c.Set(ctxIdentity, &usersv1.ValidateTokenResponse{UserId: claims.UserID, SessionId: claims.SessionID,
				Roles: claims.Roles, Region: regionProto[claims.Region], ExpiresAt: timestamppb.New(claims.ExpiresAt)})
			c.Next()
			return
		}
	}
	if a.Limits != nil && a.Limits.Limiter != nil {
		wait, err := a.Limits.failuresLeft(c)
		if err != nil {
			fail(c, errLimiterUnavailable(err))
			return
		}
		if wait > 0 {
			c.Header("Retry-After", strconv.Itoa(max(1, ceilSeconds(wait))))
			fail(c, &errs.Error{Kind: errs.KindTooMany, Code: "rate_limited", RetryAfter: wait,
				Message: "too many failed authentications from this address; retry later"})
			return
		}
	}
	if !present {
		a.authFailed(c)
		fail(c, errs.Unauthenticated("auth.token_missing", "a Bearer access token is required"))
		return
	}
	if verdict == tokens.Invalid {
		a.authFailed(c)
		fail(c, errInvalidToken)
		return
	}
	ctx, cancel := a.backend(c)
	defer cancel()
	id, err := a.Users.ValidateToken(ctx, &usersv1.ValidateTokenRequest{AccessToken: token})
	if err != nil {
		if e := backendErr(err); errs.As(e).Kind == errs.KindUnauthenticated {
			a.authFailed(c)
		}
		fail(c, backendErr(err))
		return
	}
	if a.Tokens != nil {
		a.Tokens.Remember(id.GetSessionId(), id.GetExpiresAt().AsTime())
	}
	c.Set(ctxToken, token)
	c.Set(ctxIdentity, id)
	c.Next()
}

// bearerToken is the request's bearer token, if it carries a well-formed one.
func bearerToken(c *gin.Context) (string, bool) {
	scheme, token, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > 4096 {
		return "", false
	}
	return token, true
}

// errInvalidToken is users' answer to a token that fails its check, given here for a token judged
// here.
var errInvalidToken = errs.Unauthenticated("auth.invalid_token", "the access token is invalid, expired or revoked")

var regionProto = map[string]usersv1.Region{"us": usersv1.Region_REGION_US, "eu": usersv1.Region_REGION_EU}

// sessionsEnded brings this replica's revocations up to date after a call that may have ended
// sessions, before the answer: here a revoked token is refused from the next request on (the other
// replicas within the feed's bound). A failed poll only leaves that to the next one.
func (a *API) sessionsEnded(ctx context.Context) {
	if a.Tokens == nil {
		return
	}
	if err := a.Tokens.Sync(context.WithoutCancel(ctx)); err != nil {
		a.Log.WarnContext(ctx, "revocation poll after a session change failed", "error", err)
	}
}

func (a *API) authFailed(c *gin.Context) {
	if a.Limits != nil && a.Limits.Limiter != nil {
		a.Limits.failed(c)
	}
}

// identity is the authenticated caller; nil on a route that also serves anonymous callers when the
// request carried no token.
func identity(c *gin.Context) *usersv1.ValidateTokenResponse {
	v, _ := c.Get(ctxIdentity)
	id, _ := v.(*usersv1.ValidateTokenResponse)
	return id
}

// authenticateIfPresent lets a request without an Authorization header through as anonymous; a
// request with one must carry a valid token, exactly as on authenticated routes.
func (a *API) authenticateIfPresent(c *gin.Context) {
	if _, sent := c.Request.Header["Authorization"]; !sent {
		c.Next()
		return
	}
	a.authenticate(c)
}

func (a *API) logout(c *gin.Context, ctx context.Context) (answer, error) {
	if _, err := a.Users.Logout(ctx, &usersv1.LogoutRequest{AccessToken: c.GetString(ctxToken)}); err != nil {
		return answer{}, err
	}
	a.sessionsEnded(ctx)
	return noContent(), nil
}

func (a *API) me(c *gin.Context, ctx context.Context) (answer, error) {
	resp, err := a.Users.GetUser(ctx, &usersv1.GetUserRequest{UserId: identity(c).GetUserId()})
	if err != nil {
		return answer{}, err
	}
	return okWith(gin.H{"user": userView(resp.GetUser())}), nil
}
