package adapters

import (
	"context"
	"encoding/base64"
	"fmt"

	dapr "github.com/dapr/go-sdk/client"
)

// DaprObjects writes objects through a Dapr output binding (bindings.aws.s3). The content travels
// base64-encoded and the binding decodes it (decodeBase64), so binary data arrives intact.
type DaprObjects struct {
	Client  dapr.Client
	Binding string
}

// Put creates or replaces the object at key.
func (d DaprObjects) Put(ctx context.Context, key string, data []byte, contentType string) error {
	_, err := d.Client.InvokeBinding(ctx, &dapr.InvokeBindingRequest{
		Name: d.Binding, Operation: "create", Data: []byte(base64.StdEncoding.EncodeToString(data)),
		Metadata: map[string]string{"key": key, "decodeBase64": "true", "contentType": contentType},
	})
	if err != nil {
		return fmt.Errorf("write %s through binding %s: %w", key, d.Binding, err)
	}
	return nil
}
