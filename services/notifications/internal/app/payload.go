package app

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/acme/platform/services/platform/events"
)

// WebhookEvent is the JSON body of a customer webhook delivery.
type WebhookEvent struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	OccurredAt time.Time      `json:"occurred_at"`
	ProjectID  string         `json:"project_id"`
	Actor      string         `json:"actor"`
	Data       map[string]any `json:"data"`
}

// fields names a payload's fields as the Avro schema does (project_id, user_id, …), so the JSON a
// customer receives reads like the contract.
func fields(payload any) map[string]any {
	out := map[string]any{}
	v := reflect.ValueOf(payload)
	if v.Kind() != reflect.Struct {
		return out
	}
	for i := range v.NumField() {
		if name := v.Type().Field(i).Tag.Get("avro"); name != "" {
			out[name] = v.Field(i).Interface()
		}
	}
	return out
}

func eventJSON(e events.Envelope) ([]byte, error) {
	return json.Marshal(WebhookEvent{ID: e.EventID, Type: e.Type, OccurredAt: e.OccurredAt.UTC(), ProjectID: e.Subject,
		Actor: e.Actor, Data: fields(e.Payload)})
}

// slackJSON is a Slack incoming-webhook message: one line of text.
func slackJSON(e events.Envelope) ([]byte, error) {
	text := fmt.Sprintf("Project %s: %s", e.Subject, e.Type)
	switch p := e.Payload.(type) {
	case events.ProjectUpdated:
		text = fmt.Sprintf("Project *%s* was updated", p.Name)
	case events.ProjectCreated:
		text = fmt.Sprintf("Project *%s* was created", p.Name)
	case events.ProjectArchived:
		state := "restored"
		if p.Archived {
			state = "archived"
		}
		text = fmt.Sprintf("Project %s was %s", p.ProjectID, state)
	case events.MemberChanged:
		switch e.Type {
		case "project.member_added":
			text = fmt.Sprintf("A member joined *%s* as %s", p.ProjectName, p.Role)
		case "project.member_removed":
			text = fmt.Sprintf("A member left *%s*", p.ProjectName)
		default:
			text = fmt.Sprintf("A member of *%s* is now %s", p.ProjectName, p.Role)
		}
	}
	return json.Marshal(map[string]string{"text": text})
}
