package httpapi

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"

	"github.com/acme/platform/contracts/openapi"
	"github.com/acme/platform/services/platform/errs"
)

// The gateway's edge checks come from contracts/openapi/acme.yaml, not from numbers restated here.
// For each operation it enforces what the contract says about presence and size — required fields,
// null, minLength/maxLength, minItems/maxItems, integer bounds and booleans in the query — and leaves
// meaning (formats, patterns, enums) to the service that owns the rule, which answers with its own
// code. A schema's x-error-code names the code its size failures answer with; without one they answer
// request.field_too_long / request.field_too_short in a body, request.query_invalid in a query.
//
// Type errors, unknown fields and malformed JSON are decodeJSON's: by the time these checks run the
// body has decoded into the handler's struct.

// edgeOperation is what the gateway checks for one operation.
type edgeOperation struct {
	body  *openapi3.Schema
	query []*openapi3.Parameter
}

// edgeRules maps "METHOD /gin/:path" to its operation's checks.
type edgeRules map[string]*edgeOperation

var contractRules = mustEdgeRules(openapi.Spec)

var openAPIParam = regexp.MustCompile(`\{([A-Za-z_]+)\}`)

func mustEdgeRules(spec []byte) edgeRules {
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		panic(fmt.Sprintf("contracts/openapi/acme.yaml: %v", err))
	}
	if err := doc.Validate(context.Background()); err != nil {
		panic(fmt.Sprintf("contracts/openapi/acme.yaml: %v", err))
	}
	rules := edgeRules{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			e := &edgeOperation{}
			for _, p := range append(append(openapi3.Parameters{}, item.Parameters...), op.Parameters...) {
				if p.Value != nil && p.Value.In == openapi3.ParameterInQuery && p.Value.Schema != nil {
					e.query = append(e.query, p.Value)
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				if mt := op.RequestBody.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
					e.body = mt.Schema.Value
				}
			}
			rules[method+" "+openAPIParam.ReplaceAllString(path, ":$1")] = e
		}
	}
	return rules
}

// operation is the checks of the route c matched; every served route has one (a test proves it).
func (r edgeRules) operation(c *gin.Context) *edgeOperation {
	return r[c.Request.Method+" "+c.FullPath()]
}

// checkQuery applies the contract's query rules to c's query string.
func (r edgeRules) checkQuery(c *gin.Context) error {
	op := r.operation(c)
	if op == nil {
		return nil
	}
	q := c.Request.URL.Query()
	for _, p := range op.query {
		s := p.Schema.Value
		values, ok := q[p.Name]
		if !ok {
			if p.Required {
				return errs.Invalid(errorCode(s, "", "request.query_invalid"), p.Name, p.Name+" is required")
			}
			continue
		}
		code := errorCode(s, "maxItems", "request.query_invalid")
		if s.Type.Is(openapi3.TypeArray) {
			if s.MaxItems != nil && uint64(len(values)) > *s.MaxItems {
				return errs.Invalid(code, p.Name, fmt.Sprintf("%s may be given at most %d times", p.Name, *s.MaxItems))
			}
			for _, v := range values {
				if err := checkQueryValue(p.Name, v, s.Items.Value, errorCode(s.Items.Value, "", code)); err != nil {
					return err
				}
			}
			continue
		}
		if err := checkQueryValue(p.Name, values[0], s, errorCode(s, "", "request.query_invalid")); err != nil {
			return err
		}
	}
	return nil
}

func checkQueryValue(name, v string, s *openapi3.Schema, code string) error {
	switch {
	case s.Type.Is(openapi3.TypeInteger):
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || (s.Min != nil && float64(n) < *s.Min) || (s.Max != nil && float64(n) > *s.Max) {
			return errs.Invalid(code, name, fmt.Sprintf("%s must be an integer%s", name, bounds(s.Min, s.Max)))
		}
	case s.Type.Is(openapi3.TypeBoolean):
		if _, err := strconv.ParseBool(v); err != nil {
			return errs.Invalid(code, name, name+" must be true or false")
		}
	case s.Type.Is(openapi3.TypeString):
		n := uint64(utf8.RuneCountInString(v))
		if n < s.MinLength || (s.MaxLength != nil && n > *s.MaxLength) {
			return errs.Invalid(code, name, fmt.Sprintf("%s must be %s characters", name, lengths(s.MinLength, s.MaxLength)))
		}
	}
	return nil
}

// checkBody applies the contract's body rules to the decoded JSON object.
func (r edgeRules) checkBody(c *gin.Context, body map[string]any) error {
	op := r.operation(c)
	if op == nil || op.body == nil {
		return nil
	}
	return checkObject("", op.body, body)
}

// checkObject checks an object's properties: required ones first in the contract's order, then the
// rest by name, so the first problem reported does not depend on map order.
func checkObject(prefix string, s *openapi3.Schema, obj map[string]any) error {
	names := append([]string{}, s.Required...)
	var rest []string
	for name := range s.Properties {
		if !slices.Contains(s.Required, name) {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range append(names, rest...) {
		field := prefix + name
		v, present := obj[name]
		if !present || v == nil {
			if slices.Contains(s.Required, name) {
				return errs.Invalid("request.field_required", field, fmt.Sprintf("field %q is required", field))
			}
			continue
		}
		if ref := s.Properties[name]; ref != nil && ref.Value != nil {
			if err := checkValue(field, ref.Value, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkValue(field string, s *openapi3.Schema, v any) error {
	switch v := v.(type) {
	case string:
		n := uint64(utf8.RuneCountInString(v))
		if s.MaxLength != nil && n > *s.MaxLength {
			return errs.Invalid(errorCode(s, "maxLength", "request.field_too_long"), field, fmt.Sprintf("field %q is longer than %d characters", field, *s.MaxLength))
		}
		if n < s.MinLength {
			return errs.Invalid(errorCode(s, "minLength", "request.field_too_short"), field, fmt.Sprintf("field %q is shorter than %d characters", field, s.MinLength))
		}
	case []any:
		n := uint64(len(v))
		if (s.MaxItems != nil && n > *s.MaxItems) || n < s.MinItems {
			code := errorCode(s, "maxItems", "request.field_too_long")
			if n < s.MinItems {
				code = errorCode(s, "minItems", "request.field_too_short")
			}
			return errs.Invalid(code, field, fmt.Sprintf("field %q must list %s items", field, lengths(s.MinItems, s.MaxItems)))
		}
		if s.Items == nil || s.Items.Value == nil {
			return nil
		}
		for i, item := range v {
			name := field // a string item's problem names the list, as the services do
			if _, ok := item.(map[string]any); ok || item == nil {
				name = fmt.Sprintf("%s[%d]", field, i)
			}
			if item == nil && !s.Items.Value.Type.Includes(openapi3.TypeNull) {
				return errs.Invalid("request.field_required", name, fmt.Sprintf("the items of %q may not be null", field))
			}
			if err := checkValue(name, s.Items.Value, item); err != nil {
				return err
			}
		}
	case map[string]any:
		if len(s.Properties) > 0 {
			return checkObject(field+".", s, v)
		}
	}
	return nil
}

// errorCode is the code a failure of keyword answers with: the schema's x-error-code when it is one
// code, its entry for keyword when it maps keywords to codes, or fallback.
func errorCode(s *openapi3.Schema, keyword, fallback string) string {
	switch ext := s.Extensions["x-error-code"].(type) {
	case string:
		return ext
	case map[string]any:
		if code, ok := ext[keyword].(string); ok {
			return code
		}
	}
	return fallback
}

func bounds(min, max *float64) string {
	switch {
	case min != nil && max != nil:
		return fmt.Sprintf(" from %g to %g", *min, *max)
	case min != nil:
		return fmt.Sprintf(" of at least %g", *min)
	case max != nil:
		return fmt.Sprintf(" of at most %g", *max)
	}
	return ""
}

func lengths(min uint64, max *uint64) string {
	if max == nil {
		return fmt.Sprintf("at least %d", min)
	}
	return fmt.Sprintf("%d to %d", min, *max)
}

// queryInt reads an optional integer query parameter the contract's rules have already bounded;
// absent, it is 0 and the service applies its default.
func queryInt(c *gin.Context, name string) int {
	n, _ := strconv.Atoi(c.Query(name))
	return n
}

// queryBool reads an optional boolean query parameter the contract's rules have already checked.
func queryBool(c *gin.Context, name string) (value, present bool) {
	v, ok := c.GetQuery(name)
	if !ok {
		return false, false
	}
	b, _ := strconv.ParseBool(v)
	return b, true
}
