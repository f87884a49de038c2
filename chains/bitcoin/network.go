package bitcoin

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"

	"github.com/fundtrace/fundtrace/chains"
)

// Network is a Bitcoin network as identified by the magic bytes that frame
// every record of its block files. It carries the parameters needed to
// encode and parse addresses for that network.
type Network struct {
	Name   string
	Magic  wire.BitcoinNet
	Params *chaincfg.Params
}

// testNet4Params are testnet4's (BIP94) address parameters. btcd predates
// testnet4; its addresses use testnet3's prefixes and HRP, only the magic
// differs.
var testNet4Params = func() chaincfg.Params {
	p := chaincfg.TestNet3Params
	p.Name = "testnet4"
	p.Net = 0x283f161c
	return p
}()

// Networks lists the networks whose block files fundtrace reads, keyed by
// magic. Custom signets use their own magic and are not recognised.
var Networks = []*Network{
	{Name: "mainnet", Magic: wire.MainNet, Params: &chaincfg.MainNetParams},
	{Name: "testnet3", Magic: wire.TestNet3, Params: &chaincfg.TestNet3Params},
	{Name: "testnet4", Magic: testNet4Params.Net, Params: &testNet4Params},
	{Name: "signet", Magic: chaincfg.SigNetParams.Net, Params: &chaincfg.SigNetParams},
	{Name: "regtest", Magic: wire.TestNet, Params: &chaincfg.RegressionNetParams},
}

// NetworkByMagic returns the network whose block-file magic is m, or nil.
func NetworkByMagic(m wire.BitcoinNet) *Network {
	for _, n := range Networks {
		if n.Magic == m {
			return n
		}
	}
	return nil
}

// NetworkByName returns the named network, or nil.
func NetworkByName(name string) *Network {
	for _, n := range Networks {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// nonStandardPrefix marks the id of a non-standard script. The form
// "nonstandard" + 40 hex digits of the script's SHA-256 is the one
// blockchain-etl uses, so ids agree across tools.
const nonStandardPrefix = "nonstandard"

// EncodeAddress returns the text form of a for this network: Base58Check
// for P2PKH and P2SH, bech32 for witness v0, bech32m for v1 and later, and
// "nonstandard<hex>" for a non-standard script's id.
func (n *Network) EncodeAddress(a chains.Address) (string, error) {
	p := a.Payload()
	switch a.Kind() {
	case chains.KindPubKeyHash:
		if len(p) == 20 {
			return base58.CheckEncode(p, n.Params.PubKeyHashAddrID), nil
		}
	case chains.KindScriptHash:
		if len(p) == 20 {
			return base58.CheckEncode(p, n.Params.ScriptHashAddrID), nil
		}
	case chains.KindWitnessV0KH, chains.KindWitnessV0SH:
		return encodeSegwit(n.Params.Bech32HRPSegwit, 0, p)
	case chains.KindTaproot:
		return encodeSegwit(n.Params.Bech32HRPSegwit, 1, p)
	case chains.KindWitnessOther:
		if len(p) >= 3 {
			return encodeSegwit(n.Params.Bech32HRPSegwit, p[0], p[1:])
		}
	case chains.KindScriptID:
		return nonStandardPrefix + hex.EncodeToString(p), nil
	}
	return "", fmt.Errorf("encode address: kind %d with %d-byte payload is not a %s address", a.Kind(), len(p), n.Name)
}

// MustEncode is EncodeAddress for addresses that came out of the decoder,
// which are well formed by construction; a malformed one yields "?".
func (n *Network) MustEncode(a chains.Address) string {
	s, err := n.EncodeAddress(a)
	if err != nil {
		return "?"
	}
	return s
}

func encodeSegwit(hrp string, version byte, program []byte) (string, error) {
	conv, err := bech32.ConvertBits(program, 8, 5, true)
	if err != nil {
		return "", fmt.Errorf("encode segwit address: %w", err)
	}
	data := append([]byte{version}, conv...)
	if version == 0 {
		return bech32.Encode(hrp, data)
	}
	return bech32.EncodeM(hrp, data)
}

// ParseAddress parses an address typed by a user, checking its checksum
// (Base58Check, bech32 or bech32m as the witness version requires) and that
// it belongs to this network. A hex public key is accepted and maps to its
// P2PKH address, as fundtrace files P2PK outputs under that address.
func (n *Network) ParseAddress(s string) (chains.Address, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, nonStandardPrefix); ok {
		b, err := hex.DecodeString(rest)
		if err != nil || len(b) != 20 {
			return "", fmt.Errorf("address %q: a non-standard script id is %q and 40 hex digits", s, nonStandardPrefix)
		}
		return chains.MakeAddress(chains.KindScriptID, b), nil
	}
	if hrp := n.Params.Bech32HRPSegwit + "1"; len(s) > len(hrp) && strings.EqualFold(s[:len(hrp)], hrp) {
		return parseSegwit(s, hrp[:len(hrp)-1])
	}
	dec, err := btcutil.DecodeAddress(s, n.Params)
	if err != nil {
		return "", fmt.Errorf("address %q is not a valid %s address: %w", s, n.Name, err)
	}
	if !dec.IsForNet(n.Params) {
		return "", fmt.Errorf("address %q belongs to another network than %s", s, n.Name)
	}
	switch a := dec.(type) {
	case *btcutil.AddressPubKeyHash:
		return chains.MakeAddress(chains.KindPubKeyHash, a.ScriptAddress()), nil
	case *btcutil.AddressPubKey:
		return chains.MakeAddress(chains.KindPubKeyHash, btcutil.Hash160(a.ScriptAddress())), nil
	case *btcutil.AddressScriptHash:
		return chains.MakeAddress(chains.KindScriptHash, a.ScriptAddress()), nil
	}
	return "", fmt.Errorf("address %q: unsupported address type %T", s, dec)
}

// parseSegwit decodes a bech32/bech32m address per BIP173 and BIP350:
// witness v0 must use bech32 and a 20- or 32-byte program, v1..v16 bech32m
// and a 2..40-byte program. (btcutil rejects v2+ and reads a 20-byte v1
// program as P2WPKH, so this is done here.)
func parseSegwit(s, hrp string) (chains.Address, error) {
	gotHRP, data, variant, err := bech32.DecodeGeneric(s)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", s, err)
	}
	if !strings.EqualFold(gotHRP, hrp) {
		return "", fmt.Errorf("address %q: prefix %q is not this network's %q", s, gotHRP, hrp)
	}
	if len(data) < 1 || data[0] > 16 {
		return "", fmt.Errorf("address %q: bad witness version", s)
	}
	version := data[0]
	prog, err := bech32.ConvertBits(data[1:], 5, 8, false)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", s, err)
	}
	switch {
	case version == 0 && variant != bech32.Version0, version != 0 && variant != bech32.VersionM:
		return "", fmt.Errorf("address %q: witness v%d with the wrong checksum variant (BIP350)", s, version)
	case len(prog) < 2 || len(prog) > 40:
		return "", fmt.Errorf("address %q: witness program of %d bytes", s, len(prog))
	}
	switch {
	case version == 0 && len(prog) == 20:
		return chains.MakeAddress(chains.KindWitnessV0KH, prog), nil
	case version == 0 && len(prog) == 32:
		return chains.MakeAddress(chains.KindWitnessV0SH, prog), nil
	case version == 0:
		return "", fmt.Errorf("address %q: witness v0 program of %d bytes", s, len(prog))
	case version == 1 && len(prog) == 32:
		return chains.MakeAddress(chains.KindTaproot, prog), nil
	}
	return chains.MakeAddress(chains.KindWitnessOther, append([]byte{version}, prog...)), nil
}
