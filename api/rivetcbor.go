package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// RivetKit's "cbor" encoding sends the same messages as its JSON encoding,
// encoded with CBOR (cbor-x): bigints (action ids) as 64-bit integers or
// bignums, Uint8Array as byte strings (tag 64). The gateway keeps JSON as
// its one internal form: a CBOR message is turned into the JSON the JSON
// encoding would have sent (["$BigInt","5"], ["$Uint8Array","<base64>"],
// user arrays ["$x",v] escaped as ["$$x",v]), and an answer in that JSON
// form back into CBOR values.

// encodingCBOR is the x-rivet-encoding value (and rivet_encoding.* WebSocket
// subprotocol suffix) of RivetKit's CBOR encoding.
const encodingCBOR = "cbor"

var (
	cborDec = func() cbor.DecMode {
		m, err := cbor.DecOptions{DefaultMapType: nil, BigIntDec: cbor.BigIntDecodePointer}.DecMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
	// BigIntConvertNone keeps bignums as tag 2, which cbor-x reads as a
	// bigint whatever its size (the client's ids must be bigints).
	cborEnc = func() cbor.EncMode {
		m, err := cbor.EncOptions{BigIntConvert: cbor.BigIntConvertNone}.EncMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
)

// gwEncoding is a gateway HTTP request's encoding: "cbor" or "json".
func gwEncoding(r *http.Request) string {
	if strings.EqualFold(r.Header.Get("x-rivet-encoding"), encodingCBOR) {
		return encodingCBOR
	}
	return "json"
}

// cborToRivetJSON turns a CBOR message into RivetKit's JSON form.
func cborToRivetJSON(data []byte) (json.RawMessage, error) {
	var v any
	if err := cborDec.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("not CBOR: %w", err)
	}
	return json.Marshal(cborValueToJSON(v))
}

func cborValueToJSON(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[fmt.Sprint(k)] = cborValueToJSON(val)
		}
		return m
	case []any:
		for i := range x {
			x[i] = cborValueToJSON(x[i])
		}
		if len(x) == 2 {
			if s, ok := x[0].(string); ok && strings.HasPrefix(s, "$") {
				x[0] = "$" + s // a user array that looks like a marker
			}
		}
		return x
	case []byte:
		return []any{"$Uint8Array", base64.StdEncoding.EncodeToString(x)}
	case *big.Int:
		return []any{"$BigInt", x.String()}
	case uint64:
		if x > 1<<53 {
			return []any{"$BigInt", fmt.Sprint(x)}
		}
		return x
	case cbor.Tag:
		if b, ok := x.Content.([]byte); ok { // a typed array (tag 64: Uint8Array)
			return []any{"$Uint8Array", base64.StdEncoding.EncodeToString(b)}
		}
		return cborValueToJSON(x.Content)
	}
	return v
}

// rivetJSONToCBOR encodes v (marshalled to RivetKit's JSON form first) as
// CBOR, with the markers turned back into CBOR's own values.
func rivetJSONToCBOR(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	return cborEnc.Marshal(jsonValueToCBOR(tree))
}

func jsonValueToCBOR(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			if n >= -1<<32 && n < 1<<32 {
				return n
			}
			// A JavaScript number past 32 bits: cbor-x (the RivetKit client's
			// CBOR) writes it as a float64 and reads a 64-bit integer back as
			// a BigInt, so a timestamp in milliseconds must be a float here.
			if n >= -1<<53 && n <= 1<<53 {
				return float64(n)
			}
		}
		if n, ok := new(big.Int).SetString(x.String(), 10); ok {
			return n
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, val := range x {
			x[k] = jsonValueToCBOR(val)
		}
		return x
	case []any:
		if len(x) == 2 {
			if tag, ok := x[0].(string); ok && strings.HasPrefix(tag, "$") {
				s, _ := x[1].(string)
				switch tag {
				case "$BigInt":
					if n, ok := new(big.Int).SetString(s, 10); ok {
						return n
					}
				case "$Uint8Array", "$ArrayBuffer":
					if b, err := base64.StdEncoding.DecodeString(s); err == nil {
						return b
					}
				default:
					if strings.HasPrefix(tag, "$$") {
						return []any{tag[1:], jsonValueToCBOR(x[1])}
					}
				}
			}
		}
		for i := range x {
			x[i] = jsonValueToCBOR(x[i])
		}
		return x
	}
	return v
}

// writeGatewayBody answers a gateway HTTP request in its encoding.
func writeGatewayBody(w http.ResponseWriter, r *http.Request, status int, v any) {
	if gwEncoding(r) != encodingCBOR {
		writeJSONStatus(w, status, v)
		return
	}
	data, err := rivetJSONToCBOR(v)
	if err != nil {
		writeJSONStatus(w, http.StatusInternalServerError, gwError{Group: "rivetkit", Code: "internal_error", Message: "cannot encode the answer as CBOR: " + err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// readGatewayBody reads a gateway request's body and, in the CBOR encoding,
// turns it into RivetKit's JSON form.
func (s *Server) readGatewayBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	data, err := s.readBody(w, r)
	if err != nil || len(data) == 0 || gwEncoding(r) != encodingCBOR {
		return data, err
	}
	return cborToRivetJSON(data)
}

// readGatewayMessage reads a gateway request's body (JSON or CBOR) into v,
// within --max-incoming-message-bytes; on failure it has written the error
// and reports false. An empty body leaves v as it is.
func (s *Server) readGatewayMessage(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := s.readGatewayBody(w, r)
	if bodyTimedOut(err) {
		writeGatewayError(w, s.bodyTimeoutError())
		return false
	}
	if err == nil && len(data) > s.opts.MaxIncomingMessageBytes {
		writeGatewayError(w, s.incomingTooLong(len(data)))
		return false
	}
	if err == nil && len(data) > 0 {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		writeGatewayError(w, bodyError(err))
		return false
	}
	return true
}

// RivetKit's default message limits (maxIncomingMessageSize,
// maxOutgoingMessageSize).
const (
	DefaultMaxIncomingMessageBytes = 64 << 10
	DefaultMaxOutgoingMessageBytes = 1 << 20
)

// The gateway's message-size errors, in RivetKit's group and codes.
const (
	groupMessage        = "message"
	codeIncomingTooLong = errcode.Code("incoming_too_long")
	codeOutgoingTooLong = errcode.Code("outgoing_too_long")
)

func (s *Server) incomingTooLong(n int) *Error {
	return newError(http.StatusBadRequest, groupMessage, codeIncomingTooLong,
		fmt.Sprintf("incoming message is %d bytes, over the limit of %d (--max-incoming-message-bytes)", n, s.opts.MaxIncomingMessageBytes), nil)
}

func (s *Server) outgoingTooLong(n int) *Error {
	return newError(http.StatusBadRequest, groupMessage, codeOutgoingTooLong,
		fmt.Sprintf("outgoing message is %d bytes, over the limit of %d (--max-outgoing-message-bytes)", n, s.opts.MaxOutgoingMessageBytes), nil)
}
