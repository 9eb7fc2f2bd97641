// Package ports serves the users contract (acme.users.v1) over gRPC.
package ports

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/users/internal/app"
	"github.com/acme/platform/services/users/internal/domain/user"
)

// GRPC adapts the app to the generated server interface.
type GRPC struct {
	usersv1.UnimplementedUsersServiceServer
	App *app.Service
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
		Roles: u.Roles, CreatedAt: timestamppb.New(u.CreatedAt)}
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

func (g GRPC) GetUser(ctx context.Context, in *usersv1.GetUserRequest) (*usersv1.GetUserResponse, error) {
	u, err := g.App.Get(ctx, in.GetUserId())
	if err != nil {
		return nil, err
	}
	return &usersv1.GetUserResponse{User: toProto(u)}, nil
}
