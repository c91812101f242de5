package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Size flags take bytes as the README writes them: plain bytes (1048576),
// or a number with a unit: KiB, MiB, GiB, TiB (powers of 1024) or KB, MB,
// GB, TB (powers of 1000), in any case, with an optional space.

// sizeFormat says what a size flag takes, for its errors.
const sizeFormat = "want bytes (1048576) or a number with a unit: 512KiB, 1MiB, 16GiB (KB, MB, GB are powers of 1000)"

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
}

// parseSize reads a size: 16GiB, 1.5MiB, 100KB, 1048576.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(s)
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	mult, ok := sizeUnits[unit]
	if !ok || num == "" {
		return 0, fmt.Errorf("%q: %s", s, sizeFormat)
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil && mult == 1 {
		return n, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 1 { // bytes are whole: 1.5 is no size
		return 0, fmt.Errorf("%q: %s", s, sizeFormat)
	}
	v := math.Round(f * mult)
	if v < 1 && f > 0 { // would read as 0, which many flags take as "the default"
		return 0, fmt.Errorf("%q is less than one byte: %s", s, sizeFormat)
	}
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(v), nil
}

// formatSize shows n with the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n > 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// sizeValue is a pflag.Value of a size in bytes, stored in an int or int64.
type sizeValue[T ~int | ~int64] struct{ p *T }

func (v sizeValue[T]) String() string {
	if v.p == nil {
		return "0"
	}
	return formatSize(int64(*v.p))
}

func (v sizeValue[T]) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	if int64(T(n)) != n {
		return fmt.Errorf("%q is too large", s)
	}
	*v.p = T(n)
	return nil
}

func (v sizeValue[T]) Type() string { return "size" }

// sizeVar defines a size flag stored in p, with default def.
func sizeVar[T ~int | ~int64](fs *pflag.FlagSet, p *T, name string, def T, usage string) {
	*p = def
	fs.Var(sizeValue[T]{p}, name, usage)
}

// sizeFlag defines a size flag and returns where it is stored.
func sizeFlag[T ~int | ~int64](fs *pflag.FlagSet, name string, def T, usage string) *T {
	p := new(T)
	sizeVar(fs, p, name, def, usage)
	return p
}
