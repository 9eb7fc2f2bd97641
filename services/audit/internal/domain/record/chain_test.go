package record

import (
	"testing"
	"time"
)

func chain(n int) ([]Record, [][]byte) {
	var recs []Record
	var hashes [][]byte
	var prev []byte
	for i := 0; i < n; i++ {
		r := Record{Seq: int64(i + 1), EventID: string(rune('a' + i)), Type: "t", OccurredAt: time.Unix(int64(i), 0),
			Actor: "u", Details: map[string]string{"k": "v"}}
		h := Hash(prev, r)
		recs, hashes = append(recs, r), append(hashes, h)
		prev = h
	}
	return recs, hashes
}

func verify(recs []Record, hashes [][]byte) *Break {
	var v Verifier
	var prev []byte
	for i, r := range recs {
		if b := v.Next(r, prev, hashes[i]); b != nil {
			return b
		}
		prev = hashes[i]
	}
	return nil
}

func TestChain_VerifiesAndFindsTheFirstBreak(t *testing.T) {
	recs, hashes := chain(5)
	if b := verify(recs, hashes); b != nil {
		t.Fatalf("an intact chain broke: %+v", b)
	}
	altered := append([]Record{}, recs...)
	altered[2].Actor = "someone else"
	if b := verify(altered, hashes); b == nil || b.Seq != 3 {
		t.Fatalf("altered record 3: %+v", b)
	}
	altered = append([]Record{}, recs...)
	altered[1].Details = map[string]string{"k": "w"}
	if b := verify(altered, hashes); b == nil || b.Seq != 2 {
		t.Fatalf("altered details of 2: %+v", b)
	}
	// Removing record 3: record 4 names a predecessor that is no longer there.
	removed := append(append([]Record{}, recs[:2]...), recs[3:]...)
	removedHashes := append(append([][]byte{}, hashes[:2]...), hashes[3:]...)
	var v Verifier
	var prev []byte
	var b *Break
	for i, r := range removed {
		stored := prev
		if i == 2 {
			stored = hashes[2] // what record 4 actually stores as its previous hash
		}
		if b = v.Next(r, stored, removedHashes[i]); b != nil {
			break
		}
		prev = removedHashes[i]
	}
	if b == nil || b.Seq != 4 {
		t.Fatalf("removed record 3: %+v", b)
	}
}
