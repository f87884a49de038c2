package tron

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/shareddata"
)

func readJSON(t *testing.T, v any, rel ...string) {
	t.Helper()
	b, err := os.ReadFile(shareddata.Path(t, append([]string{"tron"}, rel...)...))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadBlock43811922(t *testing.T) *Block {
	t.Helper()
	b, err := os.ReadFile(shareddata.Path(t, "tron", "blocks", "tronetl", "getblockbynum.example"))
	if err != nil {
		t.Fatal(err)
	}
	blk, ok, err := ParseBlock(b)
	if err != nil || !ok {
		t.Fatalf("%v %v", ok, err)
	}
	return blk
}

// TestBlock43811922 reads the whole /wallet/getblockbynum answer for
// mainnet block 43811922 and checks it against the chain's own hashes
// (every txID, the transactions' Merkle root and the block ID) and
// against what SOURCES.md counts in it: 198 transactions (73 TRX
// transfers, 63 contract calls, 62 TRC-10 transfers), 60 USDT transfer
// calls moving 651,365,621,692 base units, 38 of them with 0x41 inside
// the address word. Each transaction's contract, decoded from its bytes,
// must also agree with java-tron's JSON rendering of the same contract.
func TestBlock43811922(t *testing.T) {
	blk := loadBlock43811922(t)
	txs, err := DecodeBlock(blk)
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) != 198 || blk.Header.Raw.Number != 43811922 || blk.Header.Raw.Timestamp != 1662014442000 {
		t.Fatalf("%d transactions, block %d at %d", len(txs), blk.Header.Raw.Number, blk.Header.Raw.Timestamp)
	}
	w, _ := fromHex(blk.Header.Raw.WitnessAddress)
	if Encode(w) != "TUD4YXYdj2t1gP5th3A7t97mx1AUmrrQRt" {
		t.Errorf("witness %s", Encode(w))
	}
	// The JSON rendering of each contract, as java-tron wrote it.
	var rendered struct {
		Transactions []struct {
			RawData struct {
				Contract []struct {
					Type      string `json:"type"`
					Parameter struct {
						Value struct {
							Amount          int64  `json:"amount"`
							CallValue       int64  `json:"call_value"`
							Owner           string `json:"owner_address"`
							To              string `json:"to_address"`
							ContractAddress string `json:"contract_address"`
							Data            string `json:"data"`
							AssetName       string `json:"asset_name"`
						} `json:"value"`
						TypeURL string `json:"type_url"`
					} `json:"parameter"`
				} `json:"contract"`
			} `json:"raw_data"`
		} `json:"transactions"`
	}
	readJSON(t, &rendered, "blocks", "tronetl", "getblockbynum.example")
	types := map[ContractType]int{}
	usdt, usdtCalls, with41 := new(big.Int), 0, 0
	for i := range txs {
		c := txs[i].Contract()
		types[c.Type]++
		r := rendered.Transactions[i].RawData.Contract[0]
		v := r.Parameter.Value
		to, amount := v.To, v.Amount
		if c.Type == TriggerSmartContract {
			to, amount = v.ContractAddress, v.CallValue
		}
		if c.Type.String() != r.Type || c.TypeURL != r.Parameter.TypeURL || hex.EncodeToString(c.Owner) != v.Owner ||
			hex.EncodeToString(c.To) != to || c.Amount != amount || hex.EncodeToString(c.Data) != v.Data ||
			hex.EncodeToString([]byte(c.AssetName)) != v.AssetName {
			t.Fatalf("transaction %d: decoded %+v; java-tron renders %+v", i, c, r)
		}
		if !txs[i].Result.Succeeded() {
			t.Errorf("transaction %d: %+v not a success", i, txs[i].Result)
		}
		if a, _ := addr21(c.To); c.Type == TriggerSmartContract && a == USDT {
			if call, ok := DecodeTRC20Call(c.Data); ok && !call.TransferFrom {
				usdt.Add(usdt, call.Amount)
				usdtCalls++
				if c.Data[4+11] == 0x41 {
					with41++
				}
			}
		}
	}
	if types[Transfer] != 73 || types[TriggerSmartContract] != 63 || types[TransferAsset] != 62 {
		t.Errorf("contract types %v", types)
	}
	if usdtCalls != 60 || usdt.String() != "651365621692" || with41 != 38 {
		t.Errorf("%d USDT transfer calls moving %s, %d with 0x41 in the word", usdtCalls, usdt, with41)
	}
}

// TestBlockChecksCatchTampering alters the real block in the ways a bad
// node or proxy could and checks each is refused, naming the block.
func TestBlockChecksCatchTampering(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(b *Block)
		want string
	}{
		{"altered raw data", func(b *Block) {
			raw := []byte(b.Transactions[5].RawDataHex)
			raw[len(raw)-1] ^= 1
			b.Transactions[5].RawDataHex = string(raw)
		}, "is not the SHA-256 of its raw data"},
		{"missing transaction", func(b *Block) { b.Transactions = b.Transactions[1:] }, "transactions are missing or altered"},
		{"altered result", func(b *Block) { b.Transactions[7].Ret[0].ContractRet = "REVERT" }, "transactions are missing or altered"},
		{"altered header", func(b *Block) { b.Header.Raw.Timestamp++ }, "is not its height and header hash"},
		{"altered parent", func(b *Block) {
			b.Header.Raw.ParentHash = strings.Repeat("0", 64)
		}, "is not its height and header hash"},
	} {
		t.Run(c.name, func(t *testing.T) {
			blk := loadBlock43811922(t)
			c.edit(blk)
			_, err := DecodeBlock(blk)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "tron block 43811922") {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}

// TestTRC20Calls78115149 decodes the 55 complete protobuf transactions of
// block 78115149 and checks each against untron's independent decoding:
// the transaction ID (SHA-256 of the raw data) and Merkle leaf (of the
// whole transaction), the token, sender, recipient and amount.
func TestTRC20Calls78115149(t *testing.T) {
	var f struct {
		Txs []struct {
			TxID, TxLeaf, EncodedTx, TronTokenEvm, FromTron, ToTron, Amount string
			IsTransferFrom, Success                                         bool
		} `json:"trc20Txs"`
	}
	readJSON(t, &f, "txs", "untron-v3", "trc20_block_78115149.json")
	if len(f.Txs) != 55 {
		t.Fatalf("%d entries", len(f.Txs))
	}
	total, froms, with41 := new(big.Int), 0, 0
	for i, e := range f.Txs {
		enc := unhex(t, e.EncodedTx)
		tx, err := DecodeTx(enc)
		if err != nil {
			t.Fatal(err)
		}
		if id := sha256.Sum256(tx.Raw); "0x"+hex.EncodeToString(id[:]) != e.TxID {
			t.Fatalf("entry %d: txID %x, want %s", i, id, e.TxID)
		}
		if leaf := sha256.Sum256(EncodeTx(tx)); "0x"+hex.EncodeToString(leaf[:]) != e.TxLeaf {
			t.Fatalf("entry %d: re-encoded leaf %x, want %s", i, leaf, e.TxLeaf)
		}
		raw, err := DecodeRawTx(tx.Raw)
		if err != nil {
			t.Fatal(err)
		}
		c := raw.Contracts[0]
		call, ok := DecodeTRC20Call(c.Data)
		if c.Type != TriggerSmartContract || !ok || call.TransferFrom != e.IsTransferFrom {
			t.Fatalf("entry %d: %v, call %v", i, c.Type, ok)
		}
		from := chains.MakeAddress(chains.KindAccount, c.Owner[1:])
		if call.TransferFrom {
			from = call.From
			froms++
		}
		if "0x"+hex.EncodeToString(c.To[1:]) != e.TronTokenEvm || "0x41"+hex.EncodeToString(from.Payload()) != e.FromTron ||
			"0x41"+hex.EncodeToString(call.To.Payload()) != e.ToTron || call.Amount.String() != e.Amount {
			t.Fatalf("entry %d: token %x from %x to %x amount %s; want %s %s %s %s", i, c.To, from.Payload(), call.To.Payload(), call.Amount,
				e.TronTokenEvm, e.FromTron, e.ToTron, e.Amount)
		}
		if !e.IsTransferFrom && c.Data[4+11] == 0x41 {
			with41++
		}
		total.Add(total, call.Amount)
	}
	if total.String() != "367058190644" || froms != 1 || with41 != 15 {
		t.Errorf("total %s, %d transferFrom, %d with 0x41", total, froms, with41)
	}
}

// TestHeaders78000000 re-encodes 100 consecutive real headers after
// decoding them, recomputes each block ID, and checks every header's
// parent is the block before.
func TestHeaders78000000(t *testing.T) {
	var f struct {
		StartingBlockID     string   `json:"startingBlockId"`
		BlockNumbers        []string `json:"blockNumbers"`
		BlockHeaderRawBytes []string `json:"blockHeaderRawBytes"`
		BlockIDs            []string `json:"blockIds"`
	}
	readJSON(t, &f, "headers", "untron-v3", "tron_78000000_78000099.json")
	if len(f.BlockHeaderRawBytes) != 100 {
		t.Fatalf("%d headers", len(f.BlockHeaderRawBytes))
	}
	parent := f.StartingBlockID
	for i, s := range f.BlockHeaderRawBytes {
		raw := unhex(t, s)
		h, err := DecodeHeader(raw)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(h.Number) != f.BlockNumbers[i] || "0x"+hex.EncodeToString(h.ParentHash) != parent {
			t.Fatalf("header %d: number %d parent %x; want %s, %s", i, h.Number, h.ParentHash, f.BlockNumbers[i], parent)
		}
		if enc := EncodeHeader(h); hex.EncodeToString(enc) != hex.EncodeToString(raw) {
			t.Fatalf("header %d re-encodes to %x, was %x", i, enc, raw)
		}
		id := BlockID(raw)
		if "0x"+hex.EncodeToString(id[:]) != f.BlockIDs[i] {
			t.Fatalf("header %d: block ID %x, want %s", i, id, f.BlockIDs[i])
		}
		parent = f.BlockIDs[i]
	}
}

// TestInclusionProof79729218 checks two real transactions of block
// 79729218 (a USDT transfer call and a 1-sun TRX transfer) against their
// recorded decoding, and that their Merkle proofs fold, from the leaf
// EncodeTx gives, to the txTrieRoot of the real header.
func TestInclusionProof79729218(t *testing.T) {
	for _, name := range []string{"trigger_79729218_caf54b.json", "transfer_79729218_eceb1b.json"} {
		t.Run(name, func(t *testing.T) {
			var f struct {
				TxID, TxLeaf, EncodedTx, HeaderTxTrieRoot string
				Proof                                     []string
				IndexBits                                 json.Number
				Blocks                                    []string
				Expected                                  map[string]any
			}
			readJSON(t, &f, "txs", "untron-intents", name)
			tx, err := DecodeTx(unhex(t, f.EncodedTx))
			if err != nil {
				t.Fatal(err)
			}
			leaf := sha256.Sum256(EncodeTx(tx))
			if id := sha256.Sum256(tx.Raw); "0x"+hex.EncodeToString(id[:]) != f.TxID || "0x"+hex.EncodeToString(leaf[:]) != f.TxLeaf {
				t.Fatalf("id %x leaf %x", id, leaf)
			}
			raw, err := DecodeRawTx(tx.Raw)
			if err != nil {
				t.Fatal(err)
			}
			c := raw.Contracts[0]
			exp := f.Expected
			if c.Type.String() != exp["contractType"] || "0x"+hex.EncodeToString(c.Owner) != exp["senderTron"] || "0x"+hex.EncodeToString(c.To) != exp["toTron"] {
				t.Fatalf("decoded %v %x %x; expected %v", c.Type, c.Owner, c.To, exp)
			}
			if d, ok := exp["data"].(string); ok && "0x"+hex.EncodeToString(c.Data) != d {
				t.Fatalf("data %x, want %s", c.Data, d)
			}
			if a, ok := exp["amountSun"].(string); ok && new(big.Int).SetBytes(unhex(t, a)).Cmp(big.NewInt(c.Amount)) != 0 {
				t.Errorf("amount %d, want %s", c.Amount, a)
			}
			bits, _ := f.IndexBits.Int64()
			node := leaf
			for i, p := range f.Proof {
				sib := unhex(t, p)
				if bits>>i&1 == 1 {
					node = sha256.Sum256(append(sib, node[:]...))
				} else {
					node = sha256.Sum256(append(node[:], sib...))
				}
			}
			hdr, _, _, err := DecodeBlockHeader(unhex(t, f.Blocks[0]))
			if err != nil {
				t.Fatal(err)
			}
			if "0x"+hex.EncodeToString(node[:]) != f.HeaderTxTrieRoot || hex.EncodeToString(hdr.TxTrieRoot) != hex.EncodeToString(node[:]) {
				t.Fatalf("proof folds to %x; header says %x, file %s", node, hdr.TxTrieRoot, f.HeaderTxTrieRoot)
			}
		})
	}
}

// TestMerkleOddCarriedUp checks the tree shape on three leaves: the third
// is carried up, not paired with itself.
func TestMerkleOddCarriedUp(t *testing.T) {
	l := [][32]byte{{1}, {2}, {3}}
	ab := sha256.Sum256(append(l[0][:], l[1][:]...))
	want := sha256.Sum256(append(ab[:], l[2][:]...))
	if MerkleRoot(l) != want {
		t.Fatal("odd leaf not carried up")
	}
	if MerkleRoot(l[:1]) != l[0] || MerkleRoot(nil) != ([32]byte{}) {
		t.Fatal("one leaf is its own root; none is zero")
	}
}

func readPickle(t *testing.T, name string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(shareddata.Path(t, "tron", "blocks", "graphsense", name))
	if err != nil {
		t.Fatal(err)
	}
	v, err := unpickle(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []map[string]any
	for _, r := range v.([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

// TestLogs50000011 reads all 76 logs of mainnet block 50000011 (as
// GraphSense stored them) through LogTransfer and checks what SOURCES.md
// says they hold: 73 USDT transfers moving 465,704,408,725 base units, two
// of THk5qH79SoAaUnUh8JVdRarSESTZpqPjSQ (10,000 and 2,500 × 10^18, in
// transactions 47 and 286) and one log that is not a Transfer. Each USDT
// log is also checked against the call data of the transaction that
// emitted it (a transfer or transferFrom on USDT, read by DecodeTRC20Call):
// the event and the call must name the same recipient and amount.
func TestLogs50000011(t *testing.T) {
	logs := readPickle(t, "logs.pkl")
	txs := readPickle(t, "transactions.pkl")
	if len(logs) != 76 || len(txs) != 293 {
		t.Fatalf("%d logs, %d transactions", len(logs), len(txs))
	}
	input := map[int64][]byte{}
	for _, tx := range txs {
		if in, ok := tx["input"].([]byte); ok {
			input[tx["transaction_index"].(*big.Int).Int64()] = in
		}
	}
	usdt, other := new(big.Int), map[int64]string{}
	var nUSDT, notTransfer int
	for _, r := range logs {
		lg := Log{Address: hex.EncodeToString(r["address"].([]byte)), Data: hex.EncodeToString(r["data"].([]byte))}
		for _, tp := range r["topics"].([]any) {
			lg.Topics = append(lg.Topics, hex.EncodeToString(tp.([]byte)))
		}
		tr, ok, err := LogTransfer(&lg)
		if err != nil {
			t.Fatal(err)
		}
		txIndex := r["transaction_index"].(*big.Int).Int64()
		switch {
		case !ok:
			notTransfer++
			if a, _ := fromHex(lg.Address); Encode(a) != "TXTuZ1aChd1nkCraoeGJhxer2XHb1YUsAD" {
				t.Errorf("log of %s read as no transfer", Encode(a))
			}
		case tr.Asset == USDT:
			nUSDT++
			usdt.Add(usdt, tr.Amount)
			call, ok := DecodeTRC20Call(input[txIndex])
			if !ok || call.To != tr.To || call.Amount.Cmp(tr.Amount) != 0 || (call.TransferFrom && call.From != tr.From) {
				t.Errorf("transaction %d: log says %x → %x %s; its call data %+v", txIndex, tr.From.Payload(), tr.To.Payload(), tr.Amount, call)
			}
		default:
			other[txIndex] = Encode(tr.Asset) + " " + tr.Amount.String()
		}
	}
	want := map[int64]string{47: "THk5qH79SoAaUnUh8JVdRarSESTZpqPjSQ 10000000000000000000000", 286: "THk5qH79SoAaUnUh8JVdRarSESTZpqPjSQ 2500000000000000000000"}
	if nUSDT != 73 || usdt.String() != "465704408725" || notTransfer != 1 || fmt.Sprint(other) != fmt.Sprint(want) {
		t.Errorf("%d USDT transfers moving %s, %d other logs, other tokens %v", nUSDT, usdt, notTransfer, other)
	}
}

// docJSON returns the JSON example that follows "Response" in one of the
// shared API documentation pages.
func docJSON(t *testing.T, rel ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(shareddata.Path(t, append([]string{"tron", "api-examples"}, rel...)...))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	s = s[strings.Index(s, "Response"):]
	s = s[strings.Index(s, "```"):]
	s = s[strings.Index(s, "\n")+1:]
	return []byte(s[:strings.Index(s, "```")])
}

// TestExtract43811922 extracts the real block with a transaction info per
// transaction that says only that it succeeded and burnt nothing: its TRX
// and TRC-10 transfers must be java-tron's own JSON rendering's, amount
// for amount, and its USDT calls move no tokens (a token moves by its
// Transfer event, which these infos do not have, not by call data).
func TestExtract43811922(t *testing.T) {
	blk := loadBlock43811922(t)
	txs, err := DecodeBlock(blk)
	if err != nil {
		t.Fatal(err)
	}
	infos := make([]TxInfo, len(txs))
	for i := range txs {
		infos[i].ID = hex.EncodeToString(txs[i].ID[:])
	}
	bd, err := Extract(blk, txs, infos)
	if err != nil {
		t.Fatal(err)
	}
	var rendered struct {
		Transactions []struct {
			RawData struct {
				Contract []struct {
					Type      string `json:"type"`
					Parameter struct {
						Value struct {
							Amount    int64  `json:"amount"`
							AssetName string `json:"asset_name"`
							CallValue int64  `json:"call_value"`
						} `json:"value"`
					} `json:"parameter"`
				} `json:"contract"`
			} `json:"raw_data"`
		} `json:"transactions"`
	}
	readJSON(t, &rendered, "blocks", "tronetl", "getblockbynum.example")
	var want []string
	for i, tx := range rendered.Transactions {
		v := tx.RawData.Contract[0].Parameter.Value
		switch tx.RawData.Contract[0].Type {
		case "TransferContract":
			want = append(want, fmt.Sprintf("%d native  %d", i, v.Amount))
		case "TransferAssetContract":
			name, _ := hex.DecodeString(v.AssetName)
			want = append(want, fmt.Sprintf("%d trc10 %s %d", i, name, v.Amount))
		case "TriggerSmartContract":
			if v.CallValue > 0 {
				want = append(want, fmt.Sprintf("%d native  %d", i, v.CallValue))
			}
		}
	}
	var got []string
	for _, tr := range bd.Transfers {
		if !tr.Success || tr.Chain != chains.Tron || tr.Height != 43811922 {
			t.Fatalf("%+v", tr)
		}
		got = append(got, fmt.Sprintf("%d %s %s %s", tr.TxIndex, tr.Kind, FormatAsset(tr.Asset), tr.Amount))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) < 135 {
		t.Fatalf("transfers:\n%s\nwant (java-tron's rendering):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(bd.AccountTxs) != 198 || bd.Block.Time != 1662014442 || bd.Block.Hash.String() != blk.BlockID {
		t.Fatalf("%d transactions, block %+v", len(bd.AccountTxs), bd.Block)
	}
}

// TestExtractInfo gives one real USDT transfer call of block 43811922 the
// TransactionInfo of the API documentation's mainnet example (a USDT
// Transfer event of 532,079,999 base units) with a fee and an internal
// transaction added by hand, and checks every transfer that makes: the TRX
// burnt, the internal call's value, the token event with its block-wide log
// index; then the same transaction failed (no event survives as a
// success), and without its info (refused).
func TestExtractInfo(t *testing.T) {
	infos, err := ParseTxInfos(docJSON(t, "getblock-docs", "trx_wallet_gettransactioninfobyblocknum.md"))
	if err != nil || len(infos) != 2 || len(infos[1].Log) != 1 {
		t.Fatalf("%v, %d infos", err, len(infos))
	}
	blk := loadBlock43811922(t)
	txs, err := DecodeBlock(blk)
	if err != nil {
		t.Fatal(err)
	}
	call := -1
	for i := range txs {
		if a, _ := addr21(txs[i].Contract().To); a == USDT && call < 0 {
			call = i
		}
	}
	build := func(edit func(in *TxInfo)) ([]TxInfo, string) {
		all := make([]TxInfo, len(txs))
		for i := range txs {
			all[i].ID = hex.EncodeToString(txs[i].ID[:])
		}
		all[call] = infos[1]
		all[call].ID = hex.EncodeToString(txs[call].ID[:])
		all[call].Fee = 13_844_850
		all[call].Internal = []InternalTx{{Caller: "41a614f803b6fd780986a42c78ec9c7f77e6ded13c", To: "410d0707963952f2fba59dd06f2b425ace40b492fe",
			CallValueInfo: []struct {
				CallValue int64  `json:"callValue"`
				TokenID   string `json:"tokenId"`
			}{{CallValue: 7}}, Note: hex.EncodeToString([]byte("call"))}}
		if edit != nil {
			edit(&all[call])
		}
		return all, all[call].ID
	}
	show := func(bd chains.BlockData, txid string) string {
		var out []string
		for _, tr := range bd.Transfers {
			if tr.TxHash.String() == txid {
				out = append(out, fmt.Sprintf("%s %q %s→%s %s %s %v", tr.Kind, tr.Position, Encode(tr.From), Encode(tr.To), FormatAsset(tr.Asset), tr.Amount, tr.Success))
			}
		}
		return strings.Join(out, "\n")
	}
	all, txid := build(nil)
	bd, err := Extract(blk, txs, all)
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := addr21(txs[call].Contract().Owner)
	contract := "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
	from, _ := ParseAddress("41e4b8075df69297bc24cc4bbaf48cd17206e1f62c")
	to, _ := ParseAddress("410d0707963952f2fba59dd06f2b425ace40b492fe")
	want := strings.Join([]string{
		fmt.Sprintf("fee \"fee:burnt\" %s→  13844850 true", Encode(owner)),
		fmt.Sprintf("internal \"call:0\" %s→%s  7 true", contract, Encode(to)),
		fmt.Sprintf("erc20 \"log:0\" %s→%s %s 532079999 true", Encode(from), Encode(to), contract),
	}, "\n")
	if got := show(bd, txid); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	all, txid = build(func(in *TxInfo) { in.Result, in.Receipt.Result, in.Log = "FAILED", "REVERT", nil })
	if bd, err = Extract(blk, txs, all); err != nil {
		t.Fatal(err)
	}
	if got := show(bd, txid); !strings.Contains(got, "13844850 true") || !strings.Contains(got, "7 false") || strings.Contains(got, "erc20") {
		t.Fatalf("failed transaction:\n%s", got)
	}
	if _, err := Extract(blk, txs, all[:len(all)-1]); err == nil || !strings.Contains(err.Error(), "no transaction info for transaction 197") {
		t.Fatalf("got %v", err)
	}
}

// FuzzBlock feeds altered getblockbynum and transaction-info answers
// through the whole read (parse, check, extract): whatever the bytes,
// an error or a block, never a panic.
func FuzzBlock(f *testing.F) {
	if raw, err := os.ReadFile(shareddata.Path(f, "tron", "blocks", "tronetl", "getblockbynum.example")); err == nil {
		f.Add(raw, []byte(`[]`))
	}
	f.Add([]byte(`{"blockID":"00","block_header":{"raw_data":{"number":1}},"transactions":[{"txID":"00","raw_data_hex":"0a00"}]}`),
		[]byte(`[{"id":"00","log":[{"address":"41","topics":["ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef","00","00"],"data":"zz"}],"internal_transactions":[{"callValueInfo":[{"callValue":5,"tokenId":"x"}]}]}]`))
	f.Fuzz(func(t *testing.T, block, infos []byte) {
		b, ok, err := ParseBlock(block)
		if err != nil || !ok {
			return
		}
		txs, err := DecodeBlock(b)
		if err != nil {
			return
		}
		is, err := ParseTxInfos(infos)
		if err != nil {
			return
		}
		for i := range is {
			if i < len(txs) {
				is[i].ID = hex.EncodeToString(txs[i].ID[:])
			}
		}
		_, _ = Extract(b, txs, is)
	})
}

// FuzzRawTx: any bytes as a transaction's raw data or a whole
// transaction, an error or a decoding, never a panic.
func FuzzRawTx(f *testing.F) {
	f.Add([]byte{0x0a, 0x02, 0x84, 0x3e})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodeRawTx(b); err == nil && len(r.Contracts) > 0 {
			DecodeTRC20Call(r.Contracts[0].Data)
		}
		DecodeTx(b)
		DecodeBlockHeader(b)
	})
}
