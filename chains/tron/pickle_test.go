package tron

import (
	"encoding/binary"
	"fmt"
	"math/big"
)

// unpickle reads the plain-data Python pickles (protocol 4) GraphSense
// wrote its TRON test block with: lists, dicts with string keys, ints,
// bytes, strings, None and booleans. It runs nothing: any opcode outside
// that set (a class, a reduce) is an error.
func unpickle(b []byte) (any, error) {
	var (
		stack []any
		marks []int
		memo  []any
	)
	pop := func() any { v := stack[len(stack)-1]; stack = stack[:len(stack)-1]; return v }
	popMark := func() []any {
		m := marks[len(marks)-1]
		marks = marks[:len(marks)-1]
		items := append([]any(nil), stack[m:]...)
		stack = stack[:m]
		return items
	}
	need := func(i, n int) error {
		if i+n > len(b) {
			return fmt.Errorf("truncated at byte %d", i)
		}
		return nil
	}
	for i := 0; i < len(b); {
		op := b[i]
		i++
		switch op {
		case 0x80: // PROTO
			i++
		case 0x95: // FRAME
			i += 8
		case ']': // EMPTY_LIST
			stack = append(stack, &[]any{})
		case '}': // EMPTY_DICT
			stack = append(stack, map[string]any{})
		case '(': // MARK
			marks = append(marks, len(stack))
		case 0x94: // MEMOIZE
			memo = append(memo, stack[len(stack)-1])
		case 'h': // BINGET
			if err := need(i, 1); err != nil {
				return nil, err
			}
			stack = append(stack, memo[b[i]])
			i++
		case 'j': // LONG_BINGET
			if err := need(i, 4); err != nil {
				return nil, err
			}
			stack = append(stack, memo[binary.LittleEndian.Uint32(b[i:])])
			i += 4
		case 0x8c, 'C': // SHORT_BINUNICODE, SHORT_BINBYTES
			if err := need(i, 1); err != nil {
				return nil, err
			}
			n := int(b[i])
			if err := need(i+1, n); err != nil {
				return nil, err
			}
			v := append([]byte(nil), b[i+1:i+1+n]...)
			if op == 0x8c {
				stack = append(stack, string(v))
			} else {
				stack = append(stack, v)
			}
			i += 1 + n
		case 'B', 'X': // BINBYTES, BINUNICODE
			if err := need(i, 4); err != nil {
				return nil, err
			}
			n := int(binary.LittleEndian.Uint32(b[i:]))
			if err := need(i+4, n); err != nil {
				return nil, err
			}
			v := append([]byte(nil), b[i+4:i+4+n]...)
			if op == 'X' {
				stack = append(stack, string(v))
			} else {
				stack = append(stack, v)
			}
			i += 4 + n
		case 'J': // BININT
			stack = append(stack, big.NewInt(int64(int32(binary.LittleEndian.Uint32(b[i:])))))
			i += 4
		case 'K': // BININT1
			stack = append(stack, big.NewInt(int64(b[i])))
			i++
		case 'M': // BININT2
			stack = append(stack, big.NewInt(int64(binary.LittleEndian.Uint16(b[i:]))))
			i += 2
		case 0x8a: // LONG1: little-endian two's complement
			n := int(b[i])
			le := b[i+1 : i+1+n]
			be := make([]byte, n)
			for k := range le {
				be[n-1-k] = le[k]
			}
			v := new(big.Int).SetBytes(be)
			if n > 0 && le[n-1]&0x80 != 0 {
				v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
			}
			stack = append(stack, v)
			i += 1 + n
		case 'N':
			stack = append(stack, nil)
		case 0x88, 0x89: // NEWTRUE, NEWFALSE
			stack = append(stack, op == 0x88)
		case 'a': // APPEND
			v := pop()
			l := stack[len(stack)-1].(*[]any)
			*l = append(*l, v)
		case 'e': // APPENDS
			items := popMark()
			l := stack[len(stack)-1].(*[]any)
			*l = append(*l, items...)
		case 'u', 's': // SETITEMS, SETITEM
			var items []any
			if op == 'u' {
				items = popMark()
			} else {
				v := pop()
				items = []any{pop(), v}
			}
			d := stack[len(stack)-1].(map[string]any)
			for k := 0; k+1 < len(items); k += 2 {
				d[items[k].(string)] = items[k+1]
			}
		case '.': // STOP
			return deref(pop()), nil
		default:
			return nil, fmt.Errorf("pickle opcode %#x at byte %d is not plain data", op, i-1)
		}
	}
	return nil, fmt.Errorf("no STOP")
}

// deref replaces the list pointers (shared while being built) by lists.
func deref(v any) any {
	switch x := v.(type) {
	case *[]any:
		out := make([]any, len(*x))
		for i, e := range *x {
			out[i] = deref(e)
		}
		return out
	case map[string]any:
		for k, e := range x {
			x[k] = deref(e)
		}
	}
	return v
}
