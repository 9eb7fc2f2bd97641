package adapters

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"testing"
	"time"
)

func TestPermitted_RefusesInternalAddressesUnlessAllowed(t *testing.T) {
	allow, err := ParseAllowList([]string{"127.0.0.1", "10.9.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	s := NewHTTPSender(allow, time.Second)
	cases := map[string]bool{
		"93.184.216.34": true, "2606:4700::1111": true,
		"127.0.0.1": true, "10.9.3.4": true, // allowed by the list
		"127.0.0.2": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "::1": false, "fe80::1": false, "fd00::1": false, "::ffff:10.1.2.3": false,
		"224.0.0.1": false, "255.255.255.255": false,
	}
	for addr, want := range cases {
		if got := s.permitted(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: permitted = %v, want %v", addr, got, want)
		}
	}
	if _, err := ParseAllowList([]string{"not-an-address"}); err == nil {
		t.Error("a bad allow-list entry was accepted")
	}
}

func TestAllowed_RefusesPlainHTTPOutsideTheAllowList(t *testing.T) {
	s := NewHTTPSender(nil, time.Second)
	for _, u := range []string{"http://127.0.0.1/x", "https://127.0.0.1/x", "http://10.0.0.1/"} {
		if err := s.Allowed(context.Background(), u); err == nil {
			t.Errorf("%s allowed", u)
		}
	}
}

func TestSignature_IsHMACOverTimestampAndBody(t *testing.T) {
	at := time.Unix(1700000000, 0)
	body := []byte(`{"id":"e1"}`)
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write([]byte("1700000000." + string(body)))
	if got, want := Signature("s3cret", at, body), "t=1700000000,v1="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
}

// Issue 11, item 10: IPv6 forms that reach IPv4 or a site are internal too.
func TestInternal_IPv6FormsThatReachIPv4(t *testing.T) {
	for addr, want := range map[string]bool{
		"64:ff9b::a00:1":       true,  // NAT64 of 10.0.0.1
		"64:ff9b::808:808":     true,  // NAT64 of 8.8.8.8: the whole prefix is refused
		"64:ff9b:1::1":         true,  // local-use NAT64
		"2002:a00:1::1":        true,  // 6to4 of 10.0.0.1
		"::a00:1":              true,  // IPv4-compatible 10.0.0.1
		"::ffff:10.0.0.1":      true,  // IPv4-mapped, as before
		"fec0::1":              true,  // site-local
		"fd00::1":              true,  // unique local, as before
		"2001:db8::1":          true,  // documentation
		"2606:4700:4700::1111": false, // a public IPv6 address
		"8.8.8.8":              false,
	} {
		if got := internal(netip.MustParseAddr(addr)); got != want {
			t.Errorf("internal(%s) = %v, want %v", addr, got, want)
		}
	}
}
