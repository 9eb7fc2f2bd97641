package httpapi

import "testing"

func TestIsUUID(t *testing.T) {
	for s, want := range map[string]bool{
		"0198c6f2-3d4e-7a1b-9c2d-3e4f5a6b7c8d":   true,
		"0198C6F2-3D4E-7A1B-9C2D-3E4F5A6B7C8D":   true,
		"0198c6f2-3d4e-7a1b-9c2d-3e4f5a6b7c8":    false, // short
		"0198c6f2-3d4e-7a1b-9c2d-3e4f5a6b7c8d0":  false, // long
		"0198c6f2x3d4e-7a1b-9c2d-3e4f5a6b7c8d":   false, // no dash
		"0198c6f2-3d4e-7a1b-9c2d-3e4f5a6b7c8g":   false, // not hex
		"{0198c6f2-3d4e-7a1b-9c2d-3e4f5a6b7c8d}": false, // braces
		"0198c6f23d4e7a1b9c2d3e4f5a6b7c8d":       false, // no dashes
		"":                                       false,
		"0198c6f2-3d4e-7a1b-9c2d-3e4f5a6b7cé":    false, // a multi-byte rune
	} {
		if got := isUUID(s); got != want {
			t.Errorf("isUUID(%q) = %v, want %v", s, got, want)
		}
	}
}
