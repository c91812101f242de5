package api

import (
	"math/big"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// A CBOR message becomes the JSON the JSON encoding would have sent: bytes
// and big ids as markers, user arrays shaped like markers escaped.
func TestCBORToRivetJSON(t *testing.T) {
	msg := map[string]any{
		"id":   uint64(1) << 60,
		"args": []any{[]byte{1, 2}, []any{"$x", 1}, cbor.Tag{Number: 64, Content: []byte{3}}, 1.5, "s"},
	}
	data, err := cbor.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cborToRivetJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"args":[["$Uint8Array","AQI="],["$$x",1],["$Uint8Array","Aw=="],1.5,"s"],"id":["$BigInt","1152921504606846976"]}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if _, err := cborToRivetJSON([]byte{0xff, 0x00}); err == nil {
		t.Fatal("garbage decoded")
	}
}

// An answer in RivetKit's JSON form becomes CBOR values: bigints as bignums
// (cbor-x reads tag 2 as a bigint), byte markers as byte strings, escaped
// user arrays unescaped, integers as integers.
func TestRivetJSONToCBOR(t *testing.T) {
	data, err := rivetJSONToCBOR(map[string]any{"id": bigInt(7), "output": []any{[]any{"$$USD", 5}, []any{"$Uint8Array", "AQI="}, 2.5}})
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := cbor.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	id, ok := back["id"].(big.Int)
	if !ok || id.Int64() != 7 {
		t.Fatalf("id = %#v, want the bignum 7", back["id"])
	}
	out := back["output"].([]any)
	pair := out[0].([]any)
	if pair[0] != "$USD" || pair[1] != uint64(5) {
		t.Fatalf("user array = %#v, want [\"$USD\", 5]", pair)
	}
	if b, ok := out[1].([]byte); !ok || len(b) != 2 || b[1] != 2 {
		t.Fatalf("bytes = %#v", out[1])
	}
	if out[2] != 2.5 {
		t.Fatalf("float = %#v", out[2])
	}
	// Past 32 bits a JavaScript number is a float64 in cbor-x's CBOR (a
	// 64-bit integer would reach the client as a BigInt).
	data, err = rivetJSONToCBOR([]any{int64(1764720000000), int64(-1 << 40), int64(1 << 31)})
	if err != nil {
		t.Fatal(err)
	}
	var nums []any
	if err := cbor.Unmarshal(data, &nums); err != nil {
		t.Fatal(err)
	}
	if nums[0] != float64(1764720000000) || nums[1] != float64(-1<<40) || nums[2] != uint64(1<<31) {
		t.Fatalf("numbers = %#v, want two float64s and a uint64", nums)
	}
}
