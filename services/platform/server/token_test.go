package server

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestAppToken_OnlyTheSidecarsCallsPass(t *testing.T) {
	unary, _ := appToken("s3cret")
	call := func(method string, kv ...string) codes.Code {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(kv...))
		_, err := unary(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, func(context.Context, any) (any, error) { return "ok", nil })
		return status.Code(err)
	}
	cases := []struct {
		name, method string
		kv           []string
		want         codes.Code
	}{
		{"the token", "/acme.projects.v1.ProjectsService/GetProject", []string{"dapr-api-token", "s3cret"}, codes.OK},
		{"no token", "/acme.projects.v1.ProjectsService/GetProject", nil, codes.Unauthenticated},
		{"a wrong token", "/acme.projects.v1.ProjectsService/GetProject", []string{"dapr-api-token", "s3cre"}, codes.Unauthenticated},
		{"two tokens", "/acme.projects.v1.ProjectsService/GetProject", []string{"dapr-api-token", "x", "dapr-api-token", "s3cret"}, codes.Unauthenticated},
		{"an event without it", "/dapr.proto.runtime.v1.AppCallback/OnTopicEvent", nil, codes.Unauthenticated},
		{"daprd's health probe", "/dapr.proto.runtime.v1.AppCallbackHealthCheck/HealthCheck", nil, codes.OK},
		{"the subscriptions question", "/dapr.proto.runtime.v1.AppCallback/ListTopicSubscriptions", nil, codes.OK},
		{"grpc health", "/grpc.health.v1.Health/Check", nil, codes.OK},
	}
	for _, tc := range cases {
		if got := call(tc.method, tc.kv...); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	open, _ := appToken("")
	if _, err := open(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/x/Y"}, func(context.Context, any) (any, error) { return nil, nil }); err != nil {
		t.Fatalf("without a token configured: %v", err)
	}
}
