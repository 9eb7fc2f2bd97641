package kubernetes

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

// The clusters the overlays run on: node counts, and the node shape (4 vCPU, 16 GiB; what a node
// allocates to pods after the kubelet's and the system's reservations).
var clusterNodes = map[string]int{"prod-us-east": 12, "prod-eu-west": 8, "staging": 4, "dev": 2}

const (
	nodeCPUMillis = 3800
	nodeMemoryMiB = 14500
	// The platform's share: the rest is for the Dapr control plane, the ingress controller,
	// monitoring, DaemonSets, and a node's worth of room to drain one.
	platformShare = 0.7
)

func quantity(t *testing.T, s string) *resource.Quantity {
	t.Helper()
	q, err := resource.ParseQuantity(s)
	if err != nil {
		t.Fatalf("quantity %q: %v", s, err)
	}
	return &q
}

// Every app of every overlay autoscales within bounds its cluster can hold: every container (and
// sidecar) requests CPU and memory and limits memory; at every app's ceiling the requests fit the
// platform's share of the nodes; the floor keeps two pods per app outside dev; and the production
// overlays spread each app's pods across zones.
func TestOverlays_SizedToTheirClusters(t *testing.T) {
	ids := apps(t)
	for overlay, nodes := range clusterNodes {
		ws := decodeAll[object](t, "overlays/"+overlay, build(t, overlay))
		hpa := map[string]object{}
		for _, w := range ws {
			if w.Kind == "HorizontalPodAutoscaler" {
				hpa[w.Spec.ScaleTargetRef.Name] = w
			}
		}
		var cpu, mem int64 // millicores and MiB at every app's ceiling
		for _, w := range ws {
			if w.Kind != "Deployment" {
				continue
			}
			name := w.Metadata.Name
			h, ok := hpa[name]
			if !ok {
				t.Errorf("%s: Deployment %s has no HorizontalPodAutoscaler", overlay, name)
				continue
			}
			if w.Spec.Replicas != nil {
				t.Errorf("%s: Deployment %s sets replicas, which fights its autoscaler", overlay, name)
			}
			floor := 2
			if overlay == "dev" {
				floor = 1
			}
			if h.Spec.MinReplicas < floor || h.Spec.MaxReplicas < h.Spec.MinReplicas {
				t.Errorf("%s: %s scales %d..%d", overlay, name, h.Spec.MinReplicas, h.Spec.MaxReplicas)
			}
			var podCPU, podMem int64
			for _, c := range w.Spec.Template.Spec.Containers {
				r := c.Resources
				if r.Requests["cpu"] == "" || r.Requests["memory"] == "" || r.Limits["memory"] == "" {
					t.Errorf("%s: %s/%s lacks a CPU or memory request or a memory limit: %+v", overlay, name, c.Name, r)
					continue
				}
				podCPU += quantity(t, r.Requests["cpu"]).MilliValue()
				podMem += quantity(t, r.Requests["memory"]).Value() >> 20
			}
			a := w.Spec.Template.Metadata.Annotations
			if a["dapr.io/enabled"] == "true" {
				if a["dapr.io/sidecar-cpu-request"] == "" || a["dapr.io/sidecar-memory-request"] == "" || a["dapr.io/sidecar-memory-limit"] == "" {
					t.Errorf("%s: %s's sidecar lacks a request or a memory limit", overlay, name)
				} else {
					podCPU += quantity(t, a["dapr.io/sidecar-cpu-request"]).MilliValue()
					podMem += quantity(t, a["dapr.io/sidecar-memory-request"]).Value() >> 20
				}
			}
			cpu += podCPU * int64(h.Spec.MaxReplicas)
			mem += podMem * int64(h.Spec.MaxReplicas)
			if strings.HasPrefix(overlay, "prod-") {
				zones := false
				for _, c := range w.Spec.Template.Spec.TopologySpreadConstraints {
					zones = zones || c.TopologyKey == "topology.kubernetes.io/zone" && c.WhenUnsatisfiable == "DoNotSchedule"
				}
				if !zones {
					t.Errorf("%s: %s is not spread across zones", overlay, name)
				}
			}
		}
		if len(hpa) != len(ids) {
			t.Errorf("%s: %d autoscalers for %d apps", overlay, len(hpa), len(ids))
		}
		budgetCPU := int64(float64(nodes*nodeCPUMillis) * platformShare)
		budgetMem := int64(float64(nodes*nodeMemoryMiB) * platformShare)
		t.Logf("%s (%d nodes): at every ceiling %d mCPU of %d, %d MiB of %d", overlay, nodes, cpu, budgetCPU, mem, budgetMem)
		if cpu > budgetCPU || mem > budgetMem {
			t.Errorf("%s: at every app's ceiling the requests are %d mCPU and %d MiB; its %d nodes give the platform %d mCPU and %d MiB",
				overlay, cpu, mem, nodes, budgetCPU, budgetMem)
		}
	}
}
