package app

import (
	"context"
	"sort"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
)

// Preference turns one event type off or on for one channel.
type Preference struct {
	Channel, EventType string
	Enabled            bool
}

// optional lists, per channel, the notifications a user may turn off. Account mails (verification,
// password reset) are not among them: without them nobody could get back into an account.
var optional = map[string][]string{"email": {"project.member_added"}}

func prefKey(channel, eventType string) string { return channel + ":" + eventType }

// PreferenceStore keeps each user's choices: only the ones that differ from "on".
type PreferenceStore interface {
	Get(ctx context.Context, userID string) (map[string]bool, error)
	Put(ctx context.Context, userID string, prefs map[string]bool) error
	Delete(ctx context.Context, userID string) error
}

// Preferences returns the caller's choices for every optional notification.
func (s *Service) Preferences(ctx context.Context, c caller.Caller) ([]Preference, error) {
	stored, err := s.Prefs.Get(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	var out []Preference
	for channel, types := range optional {
		for _, t := range types {
			enabled, set := stored[prefKey(channel, t)]
			out = append(out, Preference{Channel: channel, EventType: t, Enabled: enabled || !set})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return prefKey(out[i].Channel, out[i].EventType) < prefKey(out[j].Channel, out[j].EventType)
	})
	return out, nil
}

// SetPreferences records the caller's choices; a notification that cannot be turned off is refused.
func (s *Service) SetPreferences(ctx context.Context, c caller.Caller, prefs []Preference) ([]Preference, error) {
	stored, err := s.Prefs.Get(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	for _, p := range prefs {
		if !isOptional(p.Channel, p.EventType) {
			return nil, errs.Invalid("preference.not_optional", "preferences",
				"only these can be turned off: email project.member_added; account mails always go out")
		}
		if p.Enabled {
			delete(stored, prefKey(p.Channel, p.EventType))
		} else {
			stored[prefKey(p.Channel, p.EventType)] = false
		}
	}
	if err := s.Prefs.Put(ctx, c.UserID, stored); err != nil {
		return nil, err
	}
	return s.Preferences(ctx, c)
}

func isOptional(channel, eventType string) bool {
	for _, t := range optional[channel] {
		if t == eventType {
			return true
		}
	}
	return false
}

// wants reports whether userID takes eventType on channel.
func (s *Service) wants(ctx context.Context, userID, channel, eventType string) (bool, error) {
	stored, err := s.Prefs.Get(ctx, userID)
	if err != nil {
		return false, err
	}
	enabled, set := stored[prefKey(channel, eventType)]
	return enabled || !set, nil
}
