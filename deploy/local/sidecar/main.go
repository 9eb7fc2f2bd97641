// Command daprd is Dapr's sidecar v1.16.2, built from the Go module proxy for machines where the
// Dapr CLI cannot fetch its release binary. It is dapr's own cmd/daprd with the stable component set
// (build tag stablecomponents) plus the components this platform needs that the stable set lacks.
package main

import (
	"time"

	"github.com/dapr/components-contrib/bindings/aws/ses"
	"github.com/dapr/components-contrib/bindings/smtp"
	"github.com/dapr/components-contrib/nameresolution"
	"github.com/dapr/components-contrib/nameresolution/sqlite"
	"github.com/dapr/dapr/cmd/daprd/app"
	bindingsLoader "github.com/dapr/dapr/pkg/components/bindings"
	nrLoader "github.com/dapr/dapr/pkg/components/nameresolution"
	"github.com/dapr/kit/logger"

	"github.com/acme/platform/deploy/local/sidecar/resolvercache"
)

func main() {
	// The email binding is SES on Kubernetes and SMTP (Mailpit) locally.
	bindingsLoader.DefaultRegistry.RegisterOutputBinding(ses.NewAWSSES, "aws.ses")
	bindingsLoader.DefaultRegistry.RegisterOutputBinding(smtp.NewSMTP, "smtp")
	// mDNS multicasts on the network interface, which these machines forbid; sqlite resolves locally.
	// Its answers are kept for a second, and an app's own id is answered without a query: see
	// resolvercache for why (four queries per gRPC-proxied call otherwise).
	nrLoader.DefaultRegistry.RegisterComponent(func(l logger.Logger) nameresolution.Resolver {
		return resolvercache.New(sqlite.NewResolver(l), time.Second, time.Now)
	}, "sqlite")
	app.Run()
}
