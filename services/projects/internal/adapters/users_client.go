package adapters

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/platform/errs"
)

// UsersClient asks the users service, through Dapr service invocation, whether an account exists.
type UsersClient struct {
	Client usersv1.UsersServiceClient
}

// Exists reports whether userID names an account.
func (u UsersClient) Exists(ctx context.Context, userID string) (bool, error) {
	_, err := u.Client.GetUser(ctx, &usersv1.GetUserRequest{UserId: userID})
	if status.Code(err) == codes.NotFound {
		return false, nil
	}
	if err != nil {
		return false, errs.Unavailable("users.unavailable", "the users service cannot be reached", err)
	}
	return true, nil
}
