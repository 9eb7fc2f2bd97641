package adapters

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/platform/errs"
)

// Users asks users, through Dapr service invocation, where an account's billing mail goes.
type Users struct {
	Client usersv1.UsersServiceClient
}

// Contact returns the account's e-mail and region.
func (u Users) Contact(ctx context.Context, userID string) (string, string, error) {
	resp, err := u.Client.GetUser(ctx, &usersv1.GetUserRequest{UserId: userID})
	if status.Code(err) == codes.NotFound {
		return "", "", errs.NotFound("user.not_found", "no such user")
	}
	if err != nil {
		return "", "", errs.Unavailable("users.unavailable", "the users service cannot be reached", err)
	}
	region := "us"
	if resp.GetUser().GetRegion() == usersv1.Region_REGION_EU {
		region = "eu"
	}
	return resp.GetUser().GetEmail(), region, nil
}
