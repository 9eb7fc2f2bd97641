package app

import (
	"fmt"
	"net"
	"net/url"
)

// CheckBaseURL accepts the web app's address that links in mail point to: absolute, https — plain
// http only for a loopback host (a developer's machine) — and without a path query or fragment to
// confuse the links built on it. There is no default: a deployment that forgot it must not mail
// links to localhost.
func CheckBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("APP_BASE_URL %q: want an absolute URL such as https://app.acme.example", raw)
	}
	host := u.Hostname()
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		loopback = true
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopback:
		return nil
	}
	return fmt.Errorf("APP_BASE_URL %q: links in mail must use https (plain http only for localhost)", raw)
}
