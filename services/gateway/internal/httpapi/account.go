package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"google.golang.org/protobuf/types/known/structpb"

	privacyv1 "github.com/acme/platform/contracts/gen/go/acme/privacy/v1"
	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/platform/errs"
)

type refreshRequest struct {
	RefreshToken *string `json:"refresh_token"`
}

func (a *API) refresh(c *gin.Context, ctx context.Context) (answer, error) {
	var req refreshRequest
	if err := decodeJSON(c, &req); err != nil {
		return answer{}, err
	}
	resp, err := a.Users.Refresh(ctx, &usersv1.RefreshRequest{RefreshToken: *req.RefreshToken})
	if err != nil {
		a.sessionsEnded(ctx) // a reused refresh token ends its session
		return answer{}, err
	}
	c.Header("Cache-Control", "no-store")
	return okWith(gin.H{"access_token": resp.GetAccessToken(), "refresh_token": resp.GetRefreshToken(),
		"token_type": resp.GetTokenType(), "expires_at": resp.GetAccessTokenExpiresAt().AsTime().UTC()}), nil
}

type tokenRequest struct {
	Token *string `json:"token"`
}

func (a *API) verifyEmail(c *gin.Context, ctx context.Context) (answer, error) {
	var req tokenRequest
	if err := decodeJSON(c, &req); err != nil {
		return answer{}, err
	}
	resp, err := a.Users.VerifyEmail(ctx, &usersv1.VerifyEmailRequest{Token: *req.Token})
	if err != nil {
		return answer{}, err
	}
	return okWith(gin.H{"user": userView(resp.GetUser())}), nil
}

type resetRequest struct {
	Email *string `json:"email"`
}

func (a *API) requestPasswordReset(c *gin.Context, ctx context.Context) (answer, error) {
	var req resetRequest
	if err := decodeJSON(c, &req); err != nil {
		return answer{}, err
	}
	if _, err := a.Users.RequestPasswordReset(ctx, &usersv1.RequestPasswordResetRequest{Email: *req.Email}); err != nil {
		return answer{}, err
	}
	// The same answer whether or not the email has an account.
	return respond(http.StatusAccepted, gin.H{"status": "if the address has an account, a reset link is on its way"}), nil
}

type confirmResetRequest struct {
	Token       *string `json:"token"`
	NewPassword *string `json:"new_password"`
}

func (a *API) confirmPasswordReset(c *gin.Context, ctx context.Context) (answer, error) {
	var req confirmResetRequest
	if err := decodeJSON(c, &req); err != nil {
		return answer{}, err
	}
	if _, err := a.Users.ConfirmPasswordReset(ctx, &usersv1.ConfirmPasswordResetRequest{Token: *req.Token, NewPassword: *req.NewPassword}); err != nil {
		return answer{}, err
	}
	a.sessionsEnded(ctx)
	return noContent(), nil
}

// Session is the public view of a session.
type Session struct {
	ID          string    `json:"id"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	RefreshedAt time.Time `json:"refreshed_at,omitzero"`
	Current     bool      `json:"current"`
}

func (a *API) listSessions(c *gin.Context, ctx context.Context) (answer, error) {
	resp, err := a.Users.ListSessions(ctx, &usersv1.ListSessionsRequest{})
	if err != nil {
		return answer{}, err
	}
	out := []Session{}
	for _, s := range resp.GetSessions() {
		v := Session{ID: s.GetId(), CreatedAt: s.GetCreatedAt().AsTime().UTC(), ExpiresAt: s.GetExpiresAt().AsTime().UTC(), Current: s.GetCurrent()}
		if s.GetRefreshedAt() != nil {
			v.RefreshedAt = s.GetRefreshedAt().AsTime().UTC()
		}
		out = append(out, v)
	}
	return okWith(gin.H{"sessions": out}), nil
}

func (a *API) revokeSession(c *gin.Context, ctx context.Context) (answer, error) {
	id := c.Param("id")
	if !isUUID(id) {
		return answer{}, errs.NotFound("session.not_found", "no such session")
	}
	if _, err := a.Users.RevokeSession(ctx, &usersv1.RevokeSessionRequest{SessionId: id}); err != nil {
		return answer{}, err
	}
	a.sessionsEnded(ctx)
	return noContent(), nil
}

type changePasswordRequest struct {
	CurrentPassword *string `json:"current_password"`
	NewPassword     *string `json:"new_password"`
}

func (a *API) changePassword(c *gin.Context, ctx context.Context) (answer, error) {
	var req changePasswordRequest
	if err := decodeJSON(c, &req); err != nil {
		return answer{}, err
	}
	if _, err := a.Users.ChangePassword(ctx, &usersv1.ChangePasswordRequest{CurrentPassword: *req.CurrentPassword, NewPassword: *req.NewPassword}); err != nil {
		return answer{}, err
	}
	a.sessionsEnded(ctx)
	return noContent(), nil
}

type rolesRequest struct {
	Roles *[]string `json:"roles"`
}

func (a *API) setRoles(c *gin.Context, ctx context.Context) (answer, error) {
	id := c.Param("id")
	if !isUUID(id) {
		return answer{}, errs.NotFound("user.not_found", "no such user")
	}
	var req rolesRequest
	if err := decodeJSON(c, &req); err != nil {
		return answer{}, err
	}
	resp, err := a.Users.SetRoles(ctx, &usersv1.SetRolesRequest{UserId: id, Roles: *req.Roles})
	if err != nil {
		return answer{}, err
	}
	a.sessionsEnded(ctx)
	return okWith(gin.H{"user": userView(resp.GetUser())}), nil
}

func (a *API) eraseMe(c *gin.Context, ctx context.Context) (answer, error) {
	if _, err := a.Users.EraseUser(ctx, &usersv1.EraseUserRequest{}); err != nil {
		return answer{}, err
	}
	a.sessionsEnded(ctx)
	return noContent(), nil
}

// exportMe asks every app that holds personal data (acme.privacy.v1) for the caller's, and answers
// with all of it. One app failing fails the export: a partial export would look complete.
func (a *API) exportMe(c *gin.Context, ctx context.Context) (answer, error) {
	userID := identity(c).GetUserId()
	type part struct {
		app  string
		data *structpb.Struct
		err  error
	}
	parts := make(chan part, len(a.PersonalData))
	for app, client := range a.PersonalData {
		go func(app string, client privacyv1.PersonalDataServiceClient) {
			resp, err := client.ExportPersonalData(ctx, &privacyv1.ExportPersonalDataRequest{UserId: userID})
			parts <- part{app: app, data: resp.GetData(), err: err}
		}(app, client)
	}
	data := map[string]any{}
	for range a.PersonalData {
		p := <-parts
		if p.err != nil {
			return answer{}, backendErr(p.err)
		}
		data[p.app] = p.data.AsMap()
	}
	c.Header("Cache-Control", "no-store")
	return okWith(gin.H{"user_id": userID, "exported_at": time.Now().UTC(), "data": data}), nil
}
