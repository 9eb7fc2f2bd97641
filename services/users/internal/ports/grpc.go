// Package ports serves the users contract (acme.users.v1) over gRPC.
package ports

import (
	"context"
	"crypto/ed25519"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	"google.golang.org/protobuf/types/known/timestamppb"

	privacyv1 "github.com/acme/platform/contracts/gen/go/acme/privacy/v1"
	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/users/internal/app"
	"github.com/acme/platform/services/users/internal/domain/user"
)

// GRPC adapts the app to the generated server interface.
type GRPC struct {
	usersv1.UnimplementedUsersServiceServer
	App *app.Service
	// Keys are the access tokens' public keys by kid.
	Keys func() map[string]ed25519.PublicKey
}

var regionToProto = map[string]usersv1.Region{user.RegionUS: usersv1.Region_REGION_US, user.RegionEU: usersv1.Region_REGION_EU}

func regionFromProto(r usersv1.Region) string {
	for k, v := range regionToProto {
		if v == r {
			return k
		}
	}
	return ""
}

func toProto(u user.User) *usersv1.User {
	return &usersv1.User{Id: u.ID, Email: u.Email, DisplayName: u.DisplayName, Region: regionToProto[u.Region],
		Roles: u.Roles, CreatedAt: timestamppb.New(u.CreatedAt), EmailVerified: u.EmailVerified}
}

func (g GRPC) Register(ctx context.Context, in *usersv1.RegisterRequest) (*usersv1.RegisterResponse, error) {
	u, err := g.App.Register(ctx, in.GetEmail(), in.GetPassword(), in.GetDisplayName(), regionFromProto(in.GetRegion()))
	if err != nil {
		return nil, err
	}
	return &usersv1.RegisterResponse{User: toProto(u)}, nil
}

func (g GRPC) Login(ctx context.Context, in *usersv1.LoginRequest) (*usersv1.LoginResponse, error) {
	r, err := g.App.Login(ctx, in.GetEmail(), in.GetPassword())
	if err != nil {
		return nil, err
	}
	return &usersv1.LoginResponse{AccessToken: r.AccessToken, RefreshToken: r.RefreshToken,
		AccessTokenExpiresAt: timestamppb.New(r.ExpiresAt), TokenType: "Bearer", User: toProto(r.User)}, nil
}

func (g GRPC) Logout(ctx context.Context, in *usersv1.LogoutRequest) (*usersv1.LogoutResponse, error) {
	if err := g.App.Logout(ctx, in.GetAccessToken()); err != nil {
		return nil, err
	}
	return &usersv1.LogoutResponse{}, nil
}

func (g GRPC) ValidateToken(ctx context.Context, in *usersv1.ValidateTokenRequest) (*usersv1.ValidateTokenResponse, error) {
	c, err := g.App.Validate(ctx, in.GetAccessToken())
	if err != nil {
		return nil, err
	}
	return &usersv1.ValidateTokenResponse{UserId: c.UserID, SessionId: c.SessionID, Roles: c.Roles,
		Region: regionToProto[c.Region], ExpiresAt: timestamppb.New(c.ExpiresAt)}, nil
}

func (g GRPC) GetTokenKeys(context.Context, *usersv1.GetTokenKeysRequest) (*usersv1.GetTokenKeysResponse, error) {
	out := &usersv1.GetTokenKeysResponse{}
	for kid, k := range g.Keys() {
		out.Keys = append(out.Keys, &usersv1.TokenKey{Kid: kid, Alg: "EdDSA", PublicKey: k})
	}
	return out, nil
}

func (g GRPC) ListRevocations(ctx context.Context, in *usersv1.ListRevocationsRequest) (*usersv1.ListRevocationsResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	var since time.Time
	if in.Since != nil {
		since = in.GetSince().AsTime()
	}
	rows, more, asOf, err := g.App.ListRevocations(ctx, c, since)
	if err != nil {
		return nil, err
	}
	out := &usersv1.ListRevocationsResponse{More: more, AsOf: timestamppb.New(asOf)}
	for _, r := range rows {
		out.Revocations = append(out.Revocations, &usersv1.Revocation{SessionId: r.SessionID,
			RevokedAt: timestamppb.New(r.RevokedAt), ExpiresAt: timestamppb.New(r.ExpiresAt)})
	}
	return out, nil
}

func (g GRPC) IssueMailToken(ctx context.Context, in *usersv1.IssueMailTokenRequest) (*usersv1.IssueMailTokenResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	tok, exp, err := g.App.IssueMailToken(ctx, c, in.GetUserId(), in.GetPurpose())
	if err != nil {
		return nil, err
	}
	return &usersv1.IssueMailTokenResponse{Token: tok, ExpiresAt: timestamppb.New(exp)}, nil
}

func (g GRPC) GetUser(ctx context.Context, in *usersv1.GetUserRequest) (*usersv1.GetUserResponse, error) {
	u, err := g.App.Get(ctx, in.GetUserId())
	if err != nil {
		return nil, err
	}
	return &usersv1.GetUserResponse{User: toProto(u)}, nil
}

func (g GRPC) Refresh(ctx context.Context, in *usersv1.RefreshRequest) (*usersv1.RefreshResponse, error) {
	r, err := g.App.Refresh(ctx, in.GetRefreshToken())
	if err != nil {
		return nil, err
	}
	return &usersv1.RefreshResponse{AccessToken: r.AccessToken, RefreshToken: r.RefreshToken,
		AccessTokenExpiresAt: timestamppb.New(r.ExpiresAt), TokenType: "Bearer"}, nil
}

func (g GRPC) VerifyEmail(ctx context.Context, in *usersv1.VerifyEmailRequest) (*usersv1.VerifyEmailResponse, error) {
	u, err := g.App.VerifyEmail(ctx, in.GetToken())
	if err != nil {
		return nil, err
	}
	return &usersv1.VerifyEmailResponse{User: toProto(u)}, nil
}

func (g GRPC) ListSessions(ctx context.Context, _ *usersv1.ListSessionsRequest) (*usersv1.ListSessionsResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	list, err := g.App.ListSessions(ctx, c)
	if err != nil {
		return nil, err
	}
	out := &usersv1.ListSessionsResponse{}
	for _, s := range list {
		v := &usersv1.Session{Id: s.ID, CreatedAt: timestamppb.New(s.CreatedAt), ExpiresAt: timestamppb.New(s.ExpiresAt), Current: s.Current}
		if !s.RefreshedAt.IsZero() {
			v.RefreshedAt = timestamppb.New(s.RefreshedAt)
		}
		out.Sessions = append(out.Sessions, v)
	}
	return out, nil
}

func (g GRPC) RevokeSession(ctx context.Context, in *usersv1.RevokeSessionRequest) (*usersv1.RevokeSessionResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	return &usersv1.RevokeSessionResponse{}, g.App.RevokeSession(ctx, c, in.GetSessionId())
}

func (g GRPC) ChangePassword(ctx context.Context, in *usersv1.ChangePasswordRequest) (*usersv1.ChangePasswordResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	return &usersv1.ChangePasswordResponse{}, g.App.ChangePassword(ctx, c, in.GetCurrentPassword(), in.GetNewPassword())
}

func (g GRPC) RequestPasswordReset(ctx context.Context, in *usersv1.RequestPasswordResetRequest) (*usersv1.RequestPasswordResetResponse, error) {
	return &usersv1.RequestPasswordResetResponse{}, g.App.RequestPasswordReset(ctx, in.GetEmail())
}

func (g GRPC) ConfirmPasswordReset(ctx context.Context, in *usersv1.ConfirmPasswordResetRequest) (*usersv1.ConfirmPasswordResetResponse, error) {
	return &usersv1.ConfirmPasswordResetResponse{}, g.App.ConfirmPasswordReset(ctx, in.GetToken(), in.GetNewPassword())
}

func (g GRPC) SetRoles(ctx context.Context, in *usersv1.SetRolesRequest) (*usersv1.SetRolesResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	u, err := g.App.SetRoles(ctx, c, in.GetUserId(), in.GetRoles())
	if err != nil {
		return nil, err
	}
	return &usersv1.SetRolesResponse{User: toProto(u)}, nil
}

func (g GRPC) EraseUser(ctx context.Context, _ *usersv1.EraseUserRequest) (*usersv1.EraseUserResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	return &usersv1.EraseUserResponse{}, g.App.Erase(ctx, c)
}

func (g GRPC) ScanUsers(ctx context.Context, in *usersv1.ScanUsersRequest) (*usersv1.ScanUsersResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	rows, next, err := g.App.Scan(ctx, c, in.GetPageToken(), int(in.GetPageSize()))
	if err != nil {
		return nil, err
	}
	out := &usersv1.ScanUsersResponse{NextPageToken: next}
	for _, u := range rows {
		out.Users = append(out.Users, &usersv1.ScannedUser{Id: u.ID, DisplayName: u.DisplayName,
			CreatedAt: timestamppb.New(u.CreatedAt), Version: u.Version})
	}
	return out, nil
}

// Privacy serves acme.privacy.v1 for the users app.
type Privacy struct {
	privacyv1.UnimplementedPersonalDataServiceServer
	App *app.Service
}

func (p Privacy) ExportPersonalData(ctx context.Context, in *privacyv1.ExportPersonalDataRequest) (*privacyv1.ExportPersonalDataResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	d, err := p.App.Export(ctx, c, in.GetUserId())
	if err != nil {
		return nil, err
	}
	sessions := []any{}
	for _, s := range d.Sessions {
		sessions = append(sessions, map[string]any{"id": s.ID, "created_at": s.CreatedAt.Format(time.RFC3339),
			"expires_at": s.ExpiresAt.Format(time.RFC3339)})
	}
	u := d.Profile
	data, err := structpb.NewStruct(map[string]any{
		"profile": map[string]any{"id": u.ID, "email": u.Email, "display_name": u.DisplayName, "region": u.Region,
			"roles": toAny(u.Roles), "created_at": u.CreatedAt.Format(time.RFC3339), "email_verified": u.EmailVerified},
		"sessions": sessions,
	})
	if err != nil {
		return nil, err
	}
	return &privacyv1.ExportPersonalDataResponse{App: "users", Data: data}, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
