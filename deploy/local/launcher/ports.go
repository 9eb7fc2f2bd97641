package launcher

import (
	"errors"

	"github.com/acme/platform/deploy/local/freeport"
)

// portPool hands out the run file's fixed ports and free ones that collide with none of them.
type portPool struct {
	reserved map[int]bool
}

func newPortPool(rf *RunFile) *portPool {
	p := &portPool{reserved: map[int]bool{}}
	for _, a := range rf.Apps {
		for _, port := range []int{a.AppPort, a.DaprHTTPPort, a.DaprGRPCPort, a.MetricsPort, a.DaprInternalGRPCPort} {
			if port > 0 {
				p.reserved[port] = true
			}
		}
	}
	return p
}

// take returns fixed, or a free port (deploy/local/freeport) that no app of the run file names.
func (p *portPool) take(fixed int) (int, error) {
	if fixed > 0 {
		return fixed, nil
	}
	for range 100 {
		port, err := freeport.Get()
		if err != nil {
			return 0, err
		}
		if !p.reserved[port] {
			p.reserved[port] = true
			return port, nil
		}
	}
	return 0, errors.New("no free port outside those dapr.yaml names")
}
