package sim

import (
	"hash/maphash"
	"iter"
	"math"
	"slices"
	"strings"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
)

// AddressBook is the truth about every address a Bitcoin simulation
// made. It is most of a long simulation's memory (a chain of ten million
// transactions makes tens of millions of addresses), so it holds no
// address's text: a 64-bit hash of it in a map, and a 12-byte record and
// the 32-byte key the address pays to in flat arrays, about 70 bytes an
// address where a map of AddressInfo pointers by text and the scripts
// took about 200. The text is made again from the key when asked for.
type AddressBook struct {
	seed  maphash.Seed
	ids   map[uint64]uint32 // the hash of an address's text → its id
	dup   map[string]uint32 // addresses whose hash an earlier one has
	recs  []addrRec
	keys  []byte   // each address's hash or key, keyLen bytes a slot
	roles []string // role names, by addrRec.role
	role  map[string]uint8
}

// keyLen is the longest key an address type pays to (taproot's 32 bytes).
const keyLen = 32

type addrRec struct {
	owner, account int32
	role           uint8
	typ            addrType
}

func newAddressBook() *AddressBook {
	return &AddressBook{seed: maphash.MakeSeed(), ids: map[uint64]uint32{}, dup: map[string]uint32{}, role: map[string]uint8{}}
}

// add records address a, paying to key (a 20-byte hash or, for taproot,
// a 32-byte key), and returns its id.
func (b *AddressBook) add(a string, typ addrType, key []byte, owner int, role string, account int) uint32 {
	r, ok := b.role[role]
	if !ok {
		r = uint8(len(b.roles))
		b.roles = append(b.roles, role)
		b.role[role] = r
	}
	id := uint32(len(b.recs))
	if len(b.recs) == math.MaxUint32 {
		panic("sim: more addresses than a uint32 counts")
	}
	h := maphash.String(b.seed, a)
	if other, ok := b.ids[h]; !ok {
		b.ids[h] = id
	} else if b.text(other) != a {
		b.dup[a] = id
	} else {
		panic("sim: address made twice: " + a)
	}
	b.recs = append(b.recs, addrRec{owner: int32(owner), account: int32(account), role: r, typ: typ})
	var k [keyLen]byte
	copy(k[:], key)
	b.keys = append(b.keys, k[:]...)
	return id
}

// id is a's id: a must be in the book (every address the simulation
// pays is made by newAddress), so no text is compared.
func (b *AddressBook) id(a string) uint32 {
	if len(b.dup) > 0 {
		if id, ok := b.dup[a]; ok {
			return id
		}
	}
	id, ok := b.ids[maphash.String(b.seed, a)]
	if !ok {
		panic("sim: address not in the book: " + a)
	}
	return id
}

// text is the address of id, encoded again from its key.
func (b *AddressBook) text(id uint32) string {
	return encode(b.recs[id].typ, b.keys[int(id)*keyLen:])
}

// encode is the regtest address of type typ paying to key (a 20-byte
// hash, or taproot's 32-byte key: longer keys are cut to the type's).
func encode(typ addrType, key []byte) string {
	params := &chaincfg.RegressionNetParams
	var a btcutil.Address
	var err error
	switch typ {
	case p2wpkh:
		a, err = btcutil.NewAddressWitnessPubKeyHash(key[:20], params)
	case p2pkh:
		a, err = btcutil.NewAddressPubKeyHash(key[:20], params)
	case p2shp2wpkh:
		a, err = btcutil.NewAddressScriptHashFromHash(key[:20], params)
	default:
		a, err = btcutil.NewAddressTaproot(key[:32], params)
	}
	if err != nil {
		panic(err) // fixed-size keys: cannot fail
	}
	return a.EncodeAddress()
}

// keySize is how many bytes of key an address of type typ pays to.
func keySize(typ addrType) int {
	if typ == p2tr {
		return 32
	}
	return 20
}

// script is the output script paying a, made afresh.
func (b *AddressBook) script(a string) []byte { return b.scriptOf(b.id(a)) }

// scriptOf is the output script paying address id, made afresh.
func (b *AddressBook) scriptOf(id uint32) []byte {
	k := b.keys[int(id)*keyLen:]
	switch b.recs[id].typ {
	case p2wpkh:
		return append([]byte{0x00, 20}, k[:20]...)
	case p2pkh:
		return append(append([]byte{0x76, 0xa9, 20}, k[:20]...), 0x88, 0xac)
	case p2shp2wpkh:
		return append(append([]byte{0xa9, 20}, k[:20]...), 0x87)
	default:
		return append([]byte{0x51, 32}, k[:32]...)
	}
}

// roleOf is a's role.
func (b *AddressBook) roleOf(a string) string { return b.roles[b.recs[b.id(a)].role] }

func (b *AddressBook) info(a string, r addrRec) AddressInfo {
	return AddressInfo{Address: a, Owner: int(r.owner), Role: b.roles[r.role], Account: int(r.account)}
}

// Len is how many addresses the book holds.
func (b *AddressBook) Len() int { return len(b.recs) }

// Info is the truth about address a.
func (b *AddressBook) Info(a string) (AddressInfo, bool) {
	id, ok := b.dup[a]
	if !ok {
		if id, ok = b.ids[maphash.String(b.seed, a)]; !ok || b.text(id) != a {
			return AddressInfo{}, false
		}
	}
	return b.info(a, b.recs[id]), true
}

// All yields every address's truth, in the order they were made.
func (b *AddressBook) All() iter.Seq[AddressInfo] {
	return func(yield func(AddressInfo) bool) {
		for id := range b.recs {
			if !yield(b.info(b.text(uint32(id)), b.recs[id])) {
				return
			}
		}
	}
}

// sorted yields every address's truth in text order.
func (b *AddressBook) sorted() iter.Seq[AddressInfo] {
	type entry struct {
		text string
		id   uint32
	}
	es := make([]entry, len(b.recs))
	for id := range b.recs {
		es[id] = entry{b.text(uint32(id)), uint32(id)}
	}
	slices.SortFunc(es, func(x, y entry) int { return strings.Compare(x.text, y.text) })
	return func(yield func(AddressInfo) bool) {
		for _, e := range es {
			if !yield(b.info(e.text, b.recs[e.id])) {
				return
			}
		}
	}
}
