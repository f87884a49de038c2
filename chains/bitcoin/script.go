package bitcoin

import (
	"crypto/sha256"
	"encoding/binary"

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
// Solver (script/solver.cpp): P2SH, witness programs (pay-to-anchor among
// them), OP_RETURN, P2PK, P2PKH, bare multisig, and everything else
// non-standard.
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
		typ := chains.ScriptWitnessUnknown
		if version == 1 && n == 4 && prog[0] == 0x4e && prog[1] == 0x73 {
			typ = chains.ScriptAnchor // Core's IsPayToAnchor; its address is the witness program's
		}
		arena = append(arena, byte(2+len(prog)), byte(chains.KindWitnessOther), version)
		return typ, append(arena, prog...), 1
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

// maxMultisigKeys is Core's MAX_PUBKEYS_PER_MULTISIG.
const maxMultisigKeys = 20

// matchMultisig is Core's MatchMultisig (script/solver.cpp): m <key>... n
// OP_CHECKMULTISIG, where 1 <= m <= n <= 20, each count either OP_1..OP_16
// or a minimal push of the number (17 to 20 can only be pushed), and
// exactly n pushes of a key's size (CPubKey::ValidSize) come between, by
// any push opcode.
func matchMultisig(s []byte) ([][]byte, bool) {
	if len(s) < 1 || s[len(s)-1] != opCheckMultisig {
		return nil, false
	}
	op, data, i, ok := getOp(s, 0)
	if !ok {
		return nil, false
	}
	m, ok := scriptNumber(op, data, 1, maxMultisigKeys)
	if !ok {
		return nil, false
	}
	var keys [][]byte
	for {
		if op, data, i, ok = getOp(s, i); !ok {
			return nil, false // the script ends inside a push, or before a count
		}
		if !validPubKey(data) {
			break
		}
		keys = append(keys, data)
	}
	if n, ok := scriptNumber(op, data, m, maxMultisigKeys); !ok || n != len(keys) {
		return nil, false
	}
	return keys, i+1 == len(s) // only OP_CHECKMULTISIG follows the count
}

// getOp reads the operation at s[i:] as Core's GetScriptOp does: its
// opcode, the data it pushes (none for an opcode that pushes none) and
// where the next operation starts. ok is false when s ends inside it.
func getOp(s []byte, i int) (op byte, data []byte, next int, ok bool) {
	if i >= len(s) {
		return 0, nil, i, false
	}
	op, i = s[i], i+1
	var l uint64
	switch {
	case op < opPushData1:
		l = uint64(op)
	case op == opPushData1:
		if len(s)-i < 1 {
			return op, nil, i, false
		}
		l, i = uint64(s[i]), i+1
	case op == opPushData2:
		if len(s)-i < 2 {
			return op, nil, i, false
		}
		l, i = uint64(binary.LittleEndian.Uint16(s[i:])), i+2
	case op == opPushData4:
		if len(s)-i < 4 {
			return op, nil, i, false
		}
		l, i = uint64(binary.LittleEndian.Uint32(s[i:])), i+4
	default:
		return op, nil, i, true
	}
	if l > uint64(len(s)-i) {
		return op, nil, i, false
	}
	return op, s[i : i+int(l)], i + int(l), true
}

// scriptNumber is Core's GetScriptNumber: the number an operation gives,
// OP_1..OP_16 or a minimally pushed, minimally encoded number, if it lies
// in [min, max].
func scriptNumber(op byte, data []byte, min, max int) (int, bool) {
	var n int64
	switch {
	case op >= op1 && op <= op16:
		n = int64(op-op1) + 1
	case op > op0 && op <= opPushData4:
		if !minimalPush(op, data) || len(data) > 4 {
			return 0, false
		}
		if l := len(data); l > 0 && data[l-1]&0x7f == 0 && (l == 1 || data[l-2]&0x80 == 0) {
			return 0, false // not minimally encoded (CScriptNum)
		}
		for i := len(data) - 1; i >= 0; i-- {
			n = n<<8 | int64(data[i])
		}
		if l := len(data); l > 0 && data[l-1]&0x80 != 0 {
			n = -(n &^ (0x80 << (8 * (l - 1))))
		}
	default:
		return 0, false
	}
	return int(n), n >= int64(min) && n <= int64(max)
}

// minimalPush is Core's CheckMinimalPush: data pushed by the shortest
// operation that can push it.
func minimalPush(op byte, data []byte) bool {
	switch l := len(data); {
	case l == 0:
		return op == op0
	case l == 1 && data[0] >= 1 && data[0] <= 16, l == 1 && data[0] == 0x81:
		return false // OP_1..OP_16 or OP_1NEGATE would do
	case l <= 75:
		return int(op) == l
	case l <= 255:
		return op == opPushData1
	case l <= 65535:
		return op == opPushData2
	}
	return true
}

// isPushOnly reports whether s is a sequence of well-formed data pushes
// (and small-integer opcodes), as Core's IsPushOnly.
func isPushOnly(s []byte) bool {
	for i := 0; i < len(s); {
		op, _, next, ok := getOp(s, i)
		if !ok || op > op16 { // OP_1NEGATE, OP_RESERVED and OP_1..OP_16 pass
			return false
		}
		i = next
	}
	return true
}
