package launcher

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// Table is the ready table: one row per app with its ports and state.
func (t *Topology) Table() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "APP\tPROTOCOL\tAPP PORT\tDAPR HTTP\tDAPR GRPC\tDAPR METRICS\tAPP METRICS\tSTATE")
	for _, a := range t.Apps {
		port := "-"
		if a.AppPort > 0 {
			port = fmt.Sprint(a.AppPort)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", a.Spec.AppID, a.Spec.AppProtocol, port, a.HTTPPort, a.GRPCPort, a.MetricsPort,
			a.AppMetricsPort, a.State)
	}
	w.Flush()
	return b.String()
}
