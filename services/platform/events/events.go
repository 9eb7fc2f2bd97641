// Package events is the platform's event model: the four Kafka topics, the envelope every event
// carries, the typed payloads, and the Avro codec that turns them into bytes any Kafka consumer can
// read (Avro single-object encoding: 0xC3 0x01, the schema's CRC-64-AVRO fingerprint, the datum).
package events

import (
	"time"

	"github.com/hamba/avro/v2"
)

// Topics, as in the architecture guide.
const (
	TopicUsers    = "acme.users.events"
	TopicProjects = "acme.projects.events"
	TopicBilling  = "acme.billing.events"
	TopicAudit    = "acme.audit.log"
)

// Topics lists every topic with a schema.
var Topics = []string{TopicUsers, TopicProjects, TopicBilling, TopicAudit}

// Envelope is the shape shared by every topic's record: who did what to which subject, when, where.
type Envelope struct {
	EventID          string    `avro:"event_id"`
	Type             string    `avro:"type"`
	OccurredAt       time.Time `avro:"occurred_at"`
	Subject          string    `avro:"subject"`
	Actor            string    `avro:"actor"`
	Region           string    `avro:"region"`
	AggregateVersion int64     `avro:"aggregate_version"`
	// Payload is one of the topic's payload types below.
	Payload any `avro:"payload"`
}

// acme.users.events payloads.
type (
	UserRegistered struct {
		UserID            string `avro:"user_id"`
		Email             string `avro:"email"`
		DisplayName       string `avro:"display_name"`
		VerificationToken string `avro:"verification_token"`
	}
	UserEmailVerified struct {
		UserID string `avro:"user_id"`
	}
	PasswordResetRequested struct {
		UserID    string    `avro:"user_id"`
		Email     string    `avro:"email"`
		Token     string    `avro:"token"`
		ExpiresAt time.Time `avro:"expires_at"`
	}
	PasswordChanged struct {
		UserID string `avro:"user_id"`
	}
	RolesChanged struct {
		UserID string   `avro:"user_id"`
		Roles  []string `avro:"roles"`
	}
	UserErased struct {
		UserID string `avro:"user_id"`
	}
)

// acme.projects.events payloads.
type (
	ProjectCreated struct {
		ProjectID   string   `avro:"project_id"`
		OwnerID     string   `avro:"owner_id"`
		Name        string   `avro:"name"`
		Slug        string   `avro:"slug"`
		Visibility  string   `avro:"visibility"`
		Tags        []string `avro:"tags"`
		Description string   `avro:"description"`
	}
	ProjectUpdated struct {
		ProjectID   string   `avro:"project_id"`
		Name        string   `avro:"name"`
		Visibility  string   `avro:"visibility"`
		Tags        []string `avro:"tags"`
		Description string   `avro:"description"`
	}
	ProjectArchived struct {
		ProjectID string `avro:"project_id"`
		Archived  bool   `avro:"archived"`
	}
	ProjectDeleted struct {
		ProjectID string `avro:"project_id"`
	}
	MemberChanged struct {
		ProjectID   string `avro:"project_id"`
		UserID      string `avro:"user_id"`
		Role        string `avro:"role"`
		ProjectName string `avro:"project_name"`
	}
	// FileEvent is file.uploaded or file.deleted (files publishes them on the project's partition).
	FileEvent struct {
		ProjectID   string `avro:"project_id"`
		FileID      string `avro:"file_id"`
		AccountID   string `avro:"account_id"`
		UploaderID  string `avro:"uploader_id"`
		SizeBytes   int64  `avro:"size_bytes"`
		ContentType string `avro:"content_type"`
		// Name is the file's sanitised name (v5; "" in older events).
		Name string `avro:"name"`
	}
)

// acme.billing.events payloads.
type (
	SubscriptionChanged struct {
		AccountID      string `avro:"account_id"`
		SubscriptionID string `avro:"subscription_id"`
		Plan           string `avro:"plan"`
		Status         string `avro:"status"`
		BillingEmail   string `avro:"billing_email"`
	}
	InvoiceEvent struct {
		AccountID    string `avro:"account_id"`
		InvoiceID    string `avro:"invoice_id"`
		AmountCents  int64  `avro:"amount_cents"`
		Currency     string `avro:"currency"`
		Status       string `avro:"status"`
		BillingEmail string `avro:"billing_email"`
	}
	UsageRecorded struct {
		AccountID string `avro:"account_id"`
		Metric    string `avro:"metric"`
		Quantity  int64  `avro:"quantity"`
	}
)

// AuditDetails is the payload of acme.audit.log.
type AuditDetails struct {
	Source       string            `avro:"source"`
	ResourceType string            `avro:"resource_type"`
	Outcome      string            `avro:"outcome"`
	Details      map[string]string `avro:"details"`
}

// payloadTypes maps every union branch of every topic's schema to its Go type. NewCodec refuses a
// schema with a branch missing here: hamba decodes the whole union into maps when one branch has no
// registered type, which would break every consumer quietly.
var payloadTypes = map[string]any{
	"acme.users.v1.UserRegistered":         UserRegistered{},
	"acme.users.v1.UserErased":             UserErased{},
	"acme.users.v1.UserEmailVerified":      UserEmailVerified{},
	"acme.users.v1.PasswordResetRequested": PasswordResetRequested{},
	"acme.users.v1.PasswordChanged":        PasswordChanged{},
	"acme.users.v1.RolesChanged":           RolesChanged{},
	"acme.projects.v1.ProjectCreated":      ProjectCreated{},
	"acme.projects.v1.ProjectUpdated":      ProjectUpdated{},
	"acme.projects.v1.ProjectArchived":     ProjectArchived{},
	"acme.projects.v1.ProjectDeleted":      ProjectDeleted{},
	"acme.projects.v1.MemberChanged":       MemberChanged{},
	"acme.projects.v1.FileEvent":           FileEvent{},
	"acme.billing.v1.SubscriptionChanged":  SubscriptionChanged{},
	"acme.billing.v1.InvoiceEvent":         InvoiceEvent{},
	"acme.billing.v1.UsageRecorded":        UsageRecorded{},
	"acme.audit.v1.AuditDetails":           AuditDetails{},
}

func init() {
	for name, v := range payloadTypes {
		avro.Register(name, v)
	}
}
