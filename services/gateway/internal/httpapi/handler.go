package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/acme/platform/services/platform/errs"
)

// answer is what a route says to send: a status, a JSON body (nil for none) and headers.
type answer struct {
	status int
	body   any
	header map[string]string
}

func okWith(body any) answer { return answer{status: http.StatusOK, body: body} }

func createdAt(location string, body any) answer {
	return answer{status: http.StatusCreated, body: body, header: map[string]string{"Location": location}}
}

func noContent() answer { return answer{status: http.StatusNoContent} }

// route is the one shape of a gateway handler: fn reads the request (path, query, body), calls a
// backend with ctx and says what to answer. ctx carries the caller's identity on authenticated
// routes (and on optional-auth routes when a token came), the client address, and the backend
// timeout. Any error, the gateway's own or a backend's, becomes the one error body here.
func (a *API) route(fn func(c *gin.Context, ctx context.Context) (answer, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		var ctx context.Context
		var cancel context.CancelFunc
		if identity(c) != nil {
			ctx, cancel = a.asCaller(c)
		} else {
			ctx, cancel = a.backend(c)
		}
		defer cancel()
		if err := contractRules.checkQuery(c); err != nil {
			fail(c, err)
			return
		}
		r, err := fn(c, ctx)
		if err != nil {
			fail(c, err)
			return
		}
		for k, v := range r.header {
			c.Header(k, v)
		}
		if r.body == nil {
			c.Status(r.status)
			return
		}
		c.JSON(r.status, r.body)
	}
}

// jsonBody decodes the request's JSON body (decodeJSON's strict rules) into a new T.
func jsonBody[T any](c *gin.Context) (T, error) {
	var v T
	err := decodeJSON(c, &v)
	return v, err
}

// uuidParam is the path parameter name, or a not-found error with code when it is no id.
func uuidParam(c *gin.Context, name, code string) (string, error) {
	id := c.Param(name)
	if !isUUID(id) {
		return "", errs.NotFound(code, "no such "+map[string]string{"project.not_found": "project", "member.not_found": "member",
			"webhook.not_found": "webhook", "user.not_found": "user", "session.not_found": "session"}[code])
	}
	return id, nil
}

// respond answers status with a JSON body.
func respond(status int, body any) answer { return answer{status: status, body: body} }
