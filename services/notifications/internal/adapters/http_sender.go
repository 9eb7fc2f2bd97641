package adapters

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/acme/platform/services/platform/errs"
)

// HTTPSender posts webhook deliveries. Every connection it opens is checked at dial time, after DNS
// resolution: a private, loopback, link-local or otherwise internal address is refused unless the
// allow-list names it, so neither a registered URL nor a DNS answer that changes later can point a
// delivery into the platform's own network.
type HTTPSender struct {
	Allow  []netip.Prefix
	client *http.Client
}

// NewHTTPSender returns a sender that refuses internal targets outside allow.
func NewHTTPSender(allow []netip.Prefix, timeout time.Duration) *HTTPSender {
	s := &HTTPSender{Allow: allow}
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: s.control}
	s.client = &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{DialContext: dialer.DialContext, Proxy: nil, MaxIdleConnsPerHost: 4,
			TLSHandshakeTimeout: 5 * time.Second, ResponseHeaderTimeout: timeout},
		// A redirect is not followed: its target was never checked when the URL was registered.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s
}

// ParseAllowList reads WEBHOOK_ALLOW_CIDRS: comma-separated prefixes or addresses.
func ParseAllowList(items []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, it := range items {
		if p, err := netip.ParsePrefix(it); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(it)
		if err != nil {
			return nil, fmt.Errorf("WEBHOOK_ALLOW_CIDRS: %q is neither a CIDR prefix nor an address", it)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// specialPurpose are IPv4 ranges (RFC 6890) that netip's predicates do not cover: "this network",
// carrier-grade NAT, IETF protocol assignments, benchmarking, and the reserved 240/4.
var specialPurpose = []netip.Prefix{
	netip.PrefixFrom(netip.IPv4Unspecified(), 8),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	// IPv6 ranges that reach IPv4 (or a site) in ways netip's predicates do not see: NAT64 (RFC 6052
	// and 8215), 6to4 (RFC 3056), the deprecated IPv4-compatible ::a.b.c.d, and site-local fec0::/10;
	// and the discard and documentation prefixes, which no endpoint has.
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("fec0::/10"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// internal reports addresses a customer's endpoint may not have.
func internal(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsMulticast() ||
		a.IsUnspecified() || a.IsInterfaceLocalMulticast() {
		return true
	}
	for _, p := range specialPurpose {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// allowListed reports whether the operator named a in WEBHOOK_ALLOW_CIDRS.
func (s *HTTPSender) allowListed(a netip.Addr) bool {
	for _, p := range s.Allow {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

func (s *HTTPSender) permitted(a netip.Addr) bool { return s.allowListed(a) || !internal(a) }

var errForbiddenTarget = errs.Invalid("webhook.url_forbidden", "url",
	"the URL resolves to a private, loopback or link-local address; such targets are refused")

func (s *HTTPSender) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return err
	}
	if !s.permitted(ap.Addr()) {
		return fmt.Errorf("refused to connect to %s: internal address", ap.Addr())
	}
	return nil
}

// Allowed resolves the URL's host and refuses it when any address it has is internal.
func (s *HTTPSender) Allowed(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return errs.Invalid("webhook.url_invalid", "url", "url is not a URL")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// A host given as an address is refused as such; a name that does not resolve and a name that
	// resolves to an internal address get one answer, so the check tells no caller which internal
	// names exist.
	_, literal := netip.ParseAddr(strings.Trim(u.Hostname(), "[]"))
	unresolvable := errs.Invalid("webhook.url_unresolvable", "url", "the URL's host does not resolve to a public address")
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil || len(addrs) == 0 {
		return unresolvable
	}
	for _, a := range addrs {
		if !s.permitted(a) {
			if literal == nil {
				return errForbiddenTarget
			}
			return unresolvable
		}
	}
	// Plain http only to targets the operator listed: a customer's events travel encrypted.
	if u.Scheme == "http" {
		for _, a := range addrs {
			if !s.allowListed(a) {
				return errs.Invalid("webhook.url_insecure", "url", "url must use https")
			}
		}
	}
	return nil
}

// Signature is the Acme-Signature header value: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
func Signature(secret string, at time.Time, body []byte) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Send posts body and returns the receiver's status.
func (s *HTTPSender) Send(ctx context.Context, target, secret, deliveryID, eventType string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Acme-Webhooks/1")
	req.Header.Set("Acme-Webhook-Id", deliveryID)
	req.Header.Set("Acme-Event-Type", eventType)
	if secret != "" {
		req.Header.Set("Acme-Signature", Signature(secret, time.Now(), body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}
