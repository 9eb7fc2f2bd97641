// Command daprd is Dapr's sidecar v1.16.2, built from the Go module proxy for machines where the
// Dapr CLI cannot fetch its release binary. It is dapr's own cmd/daprd with the stable component set
// (build tag stablecomponents) plus the components this platform needs that the stable set lacks.
package main

import (
	"github.com/dapr/components-contrib/bindings/aws/ses"
	"github.com/dapr/components-contrib/bindings/smtp"
	"github.com/dapr/components-contrib/nameresolution/sqlite"
	"github.com/dapr/dapr/cmd/daprd/app"
	bindingsLoader "github.com/dapr/dapr/pkg/components/bindings"
	nrLoader "github.com/dapr/dapr/pkg/components/nameresolution"
)

func main() {
	// The email binding is SES on Kubernetes and SMTP (Mailpit) locally.
	bindingsLoader.DefaultRegistry.RegisterOutputBinding(ses.NewAWSSES, "aws.ses")
	bindingsLoader.DefaultRegistry.RegisterOutputBinding(smtp.NewSMTP, "smtp")
	// mDNS multicasts on the network interface, which these machines forbid; sqlite resolves locally.
	nrLoader.DefaultRegistry.RegisterComponent(sqlite.NewResolver, "sqlite")
	app.Run()
}
