package eventlog

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// SubjectPrefix is the first two tokens of every actor subject in the stream.
const SubjectPrefix = "rf.ev"

// MaxKeyBytes bounds the raw size of an actor key (all parts plus their length
// prefixes). It is fixed, not configurable, because it bounds subject length, and
// subjects travel in NATS control lines that have a hard limit.
const MaxKeyBytes = 1024

// MaxTypeLen bounds the length of an actor type name.
const MaxTypeLen = 64

// ErrInvalidActor reports an actor type or key that cannot name an actor.
var ErrInvalidActor = errors.New("invalid actor")

// keyEnc keeps every key token to the characters [A-Za-z0-9_-], none of which
// is special in a NATS subject.
var keyEnc = base64.RawURLEncoding

// ActorRef names an actor: its type and its key, an array of strings.
type ActorRef struct {
	Type string
	Key  []string
}

// ValidateType checks that name can be an actor type: 1 to 64 characters of
// [A-Za-z0-9_-], starting with a letter. Types appear in subjects as they are,
// so that a subject stays readable and can be filtered by type.
func ValidateType(name string) error {
	if name == "" || len(name) > MaxTypeLen {
		return fmt.Errorf("%w: type %q must be 1 to %d characters", ErrInvalidActor, name, MaxTypeLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !letter {
			return fmt.Errorf("%w: type %q must start with a letter", ErrInvalidActor, name)
		}
		if !letter && !(c >= '0' && c <= '9') && c != '_' && c != '-' {
			return fmt.Errorf("%w: type %q may only contain letters, digits, '_' and '-'", ErrInvalidActor, name)
		}
	}
	return nil
}

// ValidateKey checks that key can name an actor: valid UTF-8 parts, at most
// MaxKeyBytes in all. Any other content (dots, wildcards, spaces, unicode) is fine.
func ValidateKey(key []string) error {
	_, err := encodeKey(key)
	return err
}

// Subject returns the actor's subject: SubjectPrefix.<type>.k<base64url(key)>,
// where the key is length-prefixed part by part before encoding, so that distinct
// keys never share a subject (["a.b"] vs ["a","b"]) and no key can inject a token.
func (r ActorRef) Subject() (string, error) {
	if err := ValidateType(r.Type); err != nil {
		return "", err
	}
	raw, err := encodeKey(r.Key)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(SubjectPrefix) + 2 + len(r.Type) + 1 + keyEnc.EncodedLen(len(raw)))
	b.WriteString(SubjectPrefix)
	b.WriteByte('.')
	b.WriteString(r.Type)
	b.WriteString(".k")
	b.WriteString(keyEnc.EncodeToString(raw))
	return b.String(), nil
}

// TypeFilter returns the subject filter that matches every actor of one type.
func TypeFilter(actorType string) (string, error) {
	if err := ValidateType(actorType); err != nil {
		return "", err
	}
	return SubjectPrefix + "." + actorType + ".*", nil
}

// ParseSubject is the inverse of [ActorRef.Subject].
func ParseSubject(subject string) (ActorRef, error) {
	rest, ok := strings.CutPrefix(subject, SubjectPrefix+".")
	if !ok {
		return ActorRef{}, fmt.Errorf("%w: subject %q is not an actor subject", ErrInvalidActor, subject)
	}
	typ, tok, ok := strings.Cut(rest, ".")
	if !ok || !strings.HasPrefix(tok, "k") {
		return ActorRef{}, fmt.Errorf("%w: subject %q is not an actor subject", ErrInvalidActor, subject)
	}
	if err := ValidateType(typ); err != nil {
		return ActorRef{}, err
	}
	raw, err := keyEnc.DecodeString(tok[1:])
	if err != nil {
		return ActorRef{}, fmt.Errorf("%w: subject %q has a malformed key: %v", ErrInvalidActor, subject, err)
	}
	key, err := decodeKey(raw)
	if err != nil {
		return ActorRef{}, fmt.Errorf("%w: subject %q: %v", ErrInvalidActor, subject, err)
	}
	// Only the canonical encoding names an actor, so that one actor has one
	// subject: the key bytes (length prefixes) and their base64 (no stray
	// trailing bits: "kAB" and "kAP" decode like "kAA").
	if canon, err := encodeKey(key); err != nil || string(canon) != string(raw) || keyEnc.EncodeToString(raw) != tok[1:] {
		return ActorRef{}, fmt.Errorf("%w: subject %q has a non-canonical key", ErrInvalidActor, subject)
	}
	return ActorRef{Type: typ, Key: key}, nil
}

func encodeKey(key []string) ([]byte, error) {
	n := 0
	for i, part := range key {
		if !utf8.ValidString(part) {
			return nil, fmt.Errorf("%w: key part %d is not valid UTF-8", ErrInvalidActor, i)
		}
		n += uvarintLen(uint64(len(part))) + len(part)
		if n > MaxKeyBytes {
			return nil, fmt.Errorf("%w: key is longer than %d bytes", ErrInvalidActor, MaxKeyBytes)
		}
	}
	raw := make([]byte, 0, n)
	for _, part := range key {
		raw = binary.AppendUvarint(raw, uint64(len(part)))
		raw = append(raw, part...)
	}
	return raw, nil
}

func decodeKey(raw []byte) ([]string, error) {
	key := []string{}
	for len(raw) > 0 {
		n, w := binary.Uvarint(raw)
		if w <= 0 || n > uint64(len(raw)-w) {
			return nil, errors.New("truncated key part")
		}
		part := string(raw[w : w+int(n)])
		if !utf8.ValidString(part) {
			return nil, errors.New("key part is not valid UTF-8")
		}
		key = append(key, part)
		raw = raw[w+int(n):]
	}
	return key, nil
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
