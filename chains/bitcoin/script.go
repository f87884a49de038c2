package bitcoin

import (
	"crypto/sha256"

	"github.com/btcsuite/btcd/btcutil"

	"github.com/fundtrace/fundtrace/chains"
)

// Opcodes used by the output-script templates.
const (
	op0             = 0x00
	opPushData1     = 0x4c
	opPushData2     = 0x4d
	opPushData4     = 0x4e
	op1             = 0x51
	op16            = 0x60
	opReturn        = 0x6a
	opEqual         = 0x87
	opDup           = 0x76
	opHash160       = 0xa9
	opEqualVerify   = 0x88
	opCheckSig      = 0xac
	opCheckMultisig = 0xae
)

// ClassifyScript returns the type of an output script and appends to dst
// the addresses it pays, in the order and by the rules of Bitcoin Core's
// Solver (script/solver.cpp): P2SH, witness programs, OP_RETURN, P2PK,
// P2PKH, bare multisig, and everything else non-standard.
//
// It matches byte templates instead of parsing the script with txscript:
// this runs for every output of every block, and the templates are fixed.
// P2PK and multisig keys are filed under the HASH160 of the key as
// written, the P2PKH address explorers show for them. A non-standard
// script is given a stable id, the first 20 bytes of its SHA-256.
func ClassifyScript(script []byte, dst []chains.Address) (chains.ScriptType, []chains.Address) {
	typ, arena, n := classify(script, nil)
	for i := 0; i < n; i++ {
		l := int(arena[0])
		dst = append(dst, chains.Address(arena[1:1+l]))
		arena = arena[1+l:]
	}
	return typ, dst
}

// classify is ClassifyScript for the block decoder: it appends the
// addresses to arena, each as a length byte and the address's bytes, and
// returns how many, so that a block's addresses take one allocation
// instead of one each.
func classify(script, arena []byte) (chains.ScriptType, []byte, int) {
	n := len(script)
	switch {
	case n == 23 && script[0] == opHash160 && script[1] == 20 && script[22] == opEqual:
		return chains.ScriptScriptHash, appendAddr(arena, chains.KindScriptHash, script[2:22]), 1
	case n >= 4 && n <= 42 && (script[0] == op0 || script[0] >= op1 && script[0] <= op16) && int(script[1]) == n-2:
		prog := script[2:]
		if script[0] == op0 {
			switch n - 2 {
			case 20:
				return chains.ScriptWitnessV0KH, appendAddr(arena, chains.KindWitnessV0KH, prog), 1
			case 32:
				return chains.ScriptWitnessV0SH, appendAddr(arena, chains.KindWitnessV0SH, prog), 1
			}
			return chains.ScriptNonStandard, appendScriptID(arena, script), 1
		}
		version := script[0] - op1 + 1
		if version == 1 && n-2 == 32 {
			return chains.ScriptTaproot, appendAddr(arena, chains.KindTaproot, prog), 1
		}
		arena = append(arena, byte(2+len(prog)), byte(chains.KindWitnessOther), version)
		return chains.ScriptWitnessUnknown, append(arena, prog...), 1
	case n >= 1 && script[0] == opReturn && isPushOnly(script[1:]):
		return chains.ScriptNullData, arena, 0
	case n == 67 && script[0] == 65 && script[66] == opCheckSig && validPubKey(script[1:66]),
		n == 35 && script[0] == 33 && script[34] == opCheckSig && validPubKey(script[1:34]):
		return chains.ScriptPubKey, appendAddr(arena, chains.KindPubKeyHash, btcutil.Hash160(script[1:n-1])), 1
	case n == 25 && script[0] == opDup && script[1] == opHash160 && script[2] == 20 &&
		script[23] == opEqualVerify && script[24] == opCheckSig:
		return chains.ScriptPubKeyHash, appendAddr(arena, chains.KindPubKeyHash, script[3:23]), 1
	}
	if keys, ok := matchMultisig(script); ok {
		for _, k := range keys {
			arena = appendAddr(arena, chains.KindPubKeyHash, btcutil.Hash160(k))
		}
		return chains.ScriptMultisig, arena, len(keys)
	}
	return chains.ScriptNonStandard, appendScriptID(arena, script), 1
}

// appendAddr appends the address of kind k and payload in the arena form
// of classify; it is chains.MakeAddress's layout.
func appendAddr(arena []byte, k chains.AddrKind, payload []byte) []byte {
	arena = append(arena, byte(1+len(payload)), byte(k))
	return append(arena, payload...)
}

func appendScriptID(arena, script []byte) []byte {
	sum := sha256.Sum256(script)
	return appendAddr(arena, chains.KindScriptID, sum[:20])
}

// validPubKey is Core's CPubKey::ValidSize: the length the first byte
// promises. It is no check that the point is on the curve, as in Core.
func validPubKey(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	switch k[0] {
	case 2, 3:
		return len(k) == 33
	case 4, 6, 7:
		return len(k) == 65
	}
	return false
}

// matchMultisig is Core's MatchMultisig: OP_m <key>... OP_n
// OP_CHECKMULTISIG with 1 <= m <= n <= 16 and n keys of valid size.
func matchMultisig(s []byte) ([][]byte, bool) {
	if len(s) < 1 || s[len(s)-1] != opCheckMultisig || len(s) < 3 {
		return nil, false
	}
	if s[0] < op1 || s[0] > op16 {
		return nil, false
	}
	m := int(s[0] - op1 + 1)
	var keys [][]byte
	i := 1
	for i < len(s)-2 {
		l := int(s[i])
		if l != 33 && l != 65 || i+1+l > len(s)-2 || !validPubKey(s[i+1:i+1+l]) {
			return nil, false
		}
		keys = append(keys, s[i+1:i+1+l])
		i += 1 + l
	}
	if i != len(s)-2 {
		return nil, false
	}
	last := s[len(s)-2]
	if last < op1 || last > op16 {
		return nil, false
	}
	nk := int(last - op1 + 1)
	if nk != len(keys) || m > nk {
		return nil, false
	}
	return keys, true
}

// isPushOnly reports whether s is a sequence of well-formed data pushes
// (and small-integer opcodes), as Core's IsPushOnly.
func isPushOnly(s []byte) bool {
	for i := 0; i < len(s); {
		op := s[i]
		i++
		var l int
		switch {
		case op < opPushData1:
			l = int(op)
		case op == opPushData1:
			if i+1 > len(s) {
				return false
			}
			l = int(s[i])
			i++
		case op == opPushData2:
			if i+2 > len(s) {
				return false
			}
			l = int(s[i]) | int(s[i+1])<<8
			i += 2
		case op == opPushData4:
			if i+4 > len(s) {
				return false
			}
			l = int(s[i]) | int(s[i+1])<<8 | int(s[i+2])<<16 | int(s[i+3])<<24
			i += 4
			if l < 0 {
				return false
			}
		case op <= op16: // OP_1NEGATE (0x4f), OP_RESERVED (0x50), OP_1..OP_16
			continue
		default:
			return false
		}
		if l > len(s)-i {
			return false
		}
		i += l
	}
	return true
}
