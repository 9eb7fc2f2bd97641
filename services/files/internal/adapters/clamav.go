package adapters

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/acme/platform/services/platform/errs"
)

// ClamAV scans a stream with clamd's INSTREAM command over its socket ("tcp://127.0.0.1:3310" or
// "unix:///run/clamav/clamd.ctl"): the bytes go in length-prefixed chunks as they arrive, so nothing
// is held in memory, and clamd answers "stream: OK" or "stream: <signature> FOUND".
type ClamAV struct {
	Network, Address string
	Timeout          time.Duration
}

// NewClamAV reads an address such as tcp://127.0.0.1:3310.
func NewClamAV(addr string) (ClamAV, error) {
	network, address, ok := strings.Cut(addr, "://")
	if !ok || (network != "tcp" && network != "unix") {
		return ClamAV{}, fmt.Errorf("CLAMD_ADDR %q: want tcp://host:port or unix:///path", addr)
	}
	return ClamAV{Network: network, Address: address, Timeout: 5 * time.Minute}, nil
}

func (c ClamAV) unavailable(err error) error {
	return errs.Unavailable("files.scanner_unavailable", "the virus scanner cannot be reached; the upload was not stored", err)
}

// Scan streams r to clamd and reads its verdict.
func (c ClamAV) Scan(ctx context.Context, r io.Reader) (bool, string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.Network, c.Address)
	if err != nil {
		return false, "", c.unavailable(err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(c.Timeout))
	}
	if _, err := conn.Write([]byte("zINSTREAM\x00")); err != nil {
		return false, "", c.unavailable(err)
	}
	buf := make([]byte, 64<<10)
	var size [4]byte
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			binary.BigEndian.PutUint32(size[:], uint32(n))
			if _, err := conn.Write(size[:]); err != nil {
				return false, "", c.unavailable(err)
			}
			if _, err := conn.Write(buf[:n]); err != nil {
				return false, "", c.unavailable(err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return false, "", rerr
		}
	}
	if _, err := conn.Write([]byte{0, 0, 0, 0}); err != nil {
		return false, "", c.unavailable(err)
	}
	reply, err := io.ReadAll(io.LimitReader(conn, 4096))
	if err != nil {
		return false, "", c.unavailable(err)
	}
	verdict := strings.TrimSpace(string(bytes.TrimRight(reply, "\x00")))
	verdict = strings.TrimPrefix(verdict, "stream: ")
	switch {
	case verdict == "OK":
		return true, "OK", nil
	case strings.HasSuffix(verdict, " FOUND"):
		return false, verdict, nil
	}
	return false, "", errs.Unavailable("files.scanner_failed", "the virus scanner could not scan the upload", fmt.Errorf("clamd: %s", verdict))
}

// Metered counts each scan by verdict (acme_file_scans_total{verdict}: clean, infected or error),
// so infected uploads and an unreachable scanner show on the dashboard.
type Metered struct {
	Scanner interface {
		Scan(ctx context.Context, r io.Reader) (bool, string, error)
	}
	Scans metric.Int64Counter
}

// Scan scans with the wrapped scanner and counts the verdict.
func (m Metered) Scan(ctx context.Context, r io.Reader) (bool, string, error) {
	clean, verdict, err := m.Scanner.Scan(ctx, r)
	outcome := "clean"
	switch {
	case err != nil:
		outcome = "error"
	case !clean:
		outcome = "infected"
	}
	m.Scans.Add(ctx, 1, metric.WithAttributes(attribute.String("verdict", outcome)))
	return clean, verdict, err
}
