package errs

import "testing"

// A domain error crosses a gRPC boundary with its kind, code and field.
func TestStatusRoundTrip(t *testing.T) {
	for _, e := range []*Error{
		Invalid("x.bad", "name", "bad"),
		NotFound("x.missing", "missing"),
		{Kind: KindPaymentRequired, Code: "billing.plan_limit_reached", Field: "projects", Message: "upgrade"},
		{Kind: KindUnprocessable, Code: "files.infected", Message: "refused"},
		{Kind: KindTooLarge, Code: "files.too_large", Field: "file", Message: "too large"},
	} {
		got := FromStatus(ToStatus(e).Err())
		if got.Kind != e.Kind || got.Code != e.Code || got.Field != e.Field || got.Message != e.Message {
			t.Errorf("%+v came back as %+v", e, got)
		}
	}
}
