package httpapi

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"
	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "github.com/acme/platform/contracts/gen/go/acme/audit/v1"
	"github.com/acme/platform/services/platform/errs"
)

// AuditRecord is the public view of an audit record.
type AuditRecord struct {
	EventID      string            `json:"event_id"`
	Type         string            `json:"type"`
	OccurredAt   time.Time         `json:"occurred_at"`
	RecordedAt   time.Time         `json:"recorded_at"`
	Subject      string            `json:"subject"`
	Actor        string            `json:"actor"`
	Region       string            `json:"region"`
	Source       string            `json:"source"`
	ResourceType string            `json:"resource_type"`
	Outcome      string            `json:"outcome"`
	Details      map[string]string `json:"details"`
	Topic        string            `json:"topic"`
}

// queryTime reads an optional RFC 3339 time.
func queryTime(c *gin.Context, name string) (*timestamppb.Timestamp, error) {
	v, ok := c.GetQuery(name)
	if !ok {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, errs.Invalid("request.query_invalid", name, name+" must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
	}
	return timestamppb.New(t), nil
}

func (a *API) listAudit(c *gin.Context, ctx context.Context) (answer, error) {
	from, err := queryTime(c, "from")
	if err != nil {
		return answer{}, err
	}
	to, err := queryTime(c, "to")
	if err != nil {
		return answer{}, err
	}
	resp, err := a.Audit.ListRecords(ctx, &auditv1.ListRecordsRequest{Subject: c.Query("subject"), Type: c.Query("type"),
		Actor: c.Query("actor"), OccurredFrom: from, OccurredTo: to, PageSize: int32(queryInt(c, "page_size")), PageToken: c.Query("page_token")})
	if err != nil {
		return answer{}, err
	}
	out := []AuditRecord{}
	for _, r := range resp.GetRecords() {
		details := r.GetDetails()
		if details == nil {
			details = map[string]string{}
		}
		out = append(out, AuditRecord{EventID: r.GetEventId(), Type: r.GetType(), OccurredAt: r.GetOccurredAt().AsTime().UTC(),
			RecordedAt: r.GetRecordedAt().AsTime().UTC(), Subject: r.GetSubject(), Actor: r.GetActor(), Region: r.GetRegion(),
			Source: r.GetSource(), ResourceType: r.GetResourceType(), Outcome: r.GetOutcome(), Details: details, Topic: r.GetTopic()})
	}
	body := gin.H{"records": out}
	if next := resp.GetNextPageToken(); next != "" {
		body["next_page_token"] = next
	}
	return okWith(body), nil
}

func (a *API) verifyAudit(c *gin.Context, ctx context.Context) (answer, error) {
	resp, err := a.Audit.VerifyChain(ctx, &auditv1.VerifyChainRequest{})
	if err != nil {
		return answer{}, err
	}
	body := gin.H{"intact": resp.GetIntact(), "checked": resp.GetChecked()}
	if !resp.GetIntact() {
		body["first_broken"] = gin.H{"seq": resp.GetBrokenSeq(), "event_id": resp.GetBrokenEventId(), "reason": resp.GetReason()}
	}
	return okWith(body), nil
}
