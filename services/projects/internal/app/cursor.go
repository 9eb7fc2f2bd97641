package app

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/projects/internal/domain/project"
)

// Cursor is the position after the last project of a page: its sort key and id (ties broken by id).
type Cursor struct {
	Sort string    `json:"s"`
	Desc bool      `json:"d"`
	Name string    `json:"n,omitempty"`
	Time time.Time `json:"t,omitempty"`
	ID   string    `json:"i"`
}

var errBadCursor = errs.Invalid("project.page_token_invalid", "page_token", "page_token is not one this service issued for this sort")

func parseList(size int, token, sort, order string) (ListQuery, error) {
	if size < 0 || size > 100 {
		return ListQuery{}, errs.Invalid("project.page_size_invalid", "page_size", "page_size must be between 1 and 100")
	}
	if size == 0 {
		size = 20
	}
	switch sort {
	case "":
		sort = "created_at"
	case "name", "created_at", "updated_at":
	default:
		return ListQuery{}, errs.Invalid("project.sort_invalid", "sort", "sort must be name, created_at or updated_at")
	}
	desc := true
	switch order {
	case "", "desc":
	case "asc":
		desc = false
	default:
		return ListQuery{}, errs.Invalid("project.order_invalid", "order", "order must be asc or desc")
	}
	q := ListQuery{Limit: size + 1, Sort: sort, Desc: desc}
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(b) > 1024 {
			return ListQuery{}, errBadCursor
		}
		var c Cursor
		if json.Unmarshal(b, &c) != nil || c.Sort != sort || c.Desc != desc {
			return ListQuery{}, errBadCursor
		}
		if _, err := uuid.Parse(c.ID); err != nil {
			return ListQuery{}, errBadCursor
		}
		q.After = &c
	}
	return q, nil
}

func encodeCursor(q ListQuery, last project.Project) string {
	c := Cursor{Sort: q.Sort, Desc: q.Desc, ID: last.ID}
	switch q.Sort {
	case "name":
		c.Name = last.Name
	case "created_at":
		c.Time = last.CreatedAt
	case "updated_at":
		c.Time = last.UpdatedAt
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}
