package httpapi

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/gin-gonic/gin"

	opsv1 "github.com/acme/platform/contracts/gen/go/acme/ops/v1"
	"github.com/acme/platform/services/platform/errs"
)

// DeadLetter is the public view of a stored dead letter; the message travels base64-encoded.
type DeadLetter struct {
	ID         int64     `json:"id"`
	Topic      string    `json:"topic"`
	MessageID  string    `json:"message_id"`
	DataBase64 string    `json:"data_base64"`
	ReceivedAt time.Time `json:"received_at"`
}

// listDeadLetters asks one consuming app (?app=) for what its subscriptions gave up on.
func (a *API) listDeadLetters(c *gin.Context, ctx context.Context) (answer, error) {
	app := c.Query("app")
	client, ok := a.DeadLetters[app]
	if !ok {
		return answer{}, errs.Invalid("ops.app_invalid", "app", "app must name an app that consumes events")
	}
	resp, err := client.ListDeadLetters(ctx, &opsv1.ListDeadLettersRequest{PageSize: int32(queryInt(c, "page_size")), PageToken: c.Query("page_token")})
	if err != nil {
		return answer{}, err
	}
	out := []DeadLetter{}
	for _, l := range resp.GetLetters() {
		out = append(out, DeadLetter{ID: l.GetId(), Topic: l.GetTopic(), MessageID: l.GetMessageId(),
			DataBase64: base64.StdEncoding.EncodeToString(l.GetData()), ReceivedAt: l.GetReceivedAt().AsTime().UTC()})
	}
	body := gin.H{"app": app, "dead_letters": out}
	if next := resp.GetNextPageToken(); next != "" {
		body["next_page_token"] = next
	}
	return okWith(body), nil
}
