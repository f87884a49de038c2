package ethereum

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/fundtrace/fundtrace/chains"
)

// Event signatures of the token transfers fundtrace records.
var (
	topicTransfer       = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))
	topicTransferSingle = crypto.Keccak256Hash([]byte("TransferSingle(address,address,address,uint256,uint256)"))
	topicTransferBatch  = crypto.Keccak256Hash([]byte("TransferBatch(address,address,address,uint256[],uint256[])"))
)

// Addr converts a go-ethereum address to the chain-neutral form.
func Addr(a common.Address) chains.Address { return chains.MakeAddress(chains.KindAccount, a[:]) }

// FormatAddress renders an account address as 0x and 40 lower-case hex
// digits, the form ethereum-etl and most explorers' exports use.
func FormatAddress(a chains.Address) string {
	if a.Kind() != chains.KindAccount {
		return ""
	}
	return "0x" + common.Bytes2Hex(a.Payload())
}

// ParseAddress reads a 0x-prefixed 40-digit hex address: the one parser
// of Ethereum addresses, for every command, file and list. Digits all in
// lower or all in upper case are taken as written; mixed case is an
// EIP-55 checksum, and an address failing it is refused, so that a
// mistyped address is never screened or traced as another.
func ParseAddress(s string) (chains.Address, error) {
	if len(s) != 42 || !strings.HasPrefix(strings.ToLower(s), "0x") || !common.IsHexAddress(s) {
		return "", fmt.Errorf("%q is not an Ethereum address (0x and 40 hex digits)", s)
	}
	a := common.HexToAddress(s)
	if body := s[2:]; body != strings.ToLower(body) && body != strings.ToUpper(body) && a.Hex()[2:] != body {
		return "", fmt.Errorf("%q fails its EIP-55 checksum", s)
	}
	return Addr(a), nil
}

// Bundle is what the node said about one block: the block with its
// transactions, one receipt per transaction, and (unless tracing is off)
// the calls each transaction made.
type Bundle struct {
	Block    rpcBlock
	Receipts []rpcReceipt
	Traces   []Trace // nil when tracing is off
	Traced   bool
	// Incomplete lists, after Extract, the traces that could not be read
	// as transfers, each with its transaction and why.
	Incomplete []string
}

// Extract turns a bundle into what the store keeps: the block, its
// transactions with their receipts' outcome and fee, and every transfer
// of value in it. It checks that the parts belong together (a receipt per
// transaction, in order, with the same hash) and names the block and the
// field that is wrong otherwise.
func Extract(b *Bundle) (chains.BlockData, error) {
	var bd chains.BlockData
	blk := &b.Block
	for field, missing := range map[string]bool{"number": blk.Number == nil, "hash": blk.Hash == nil, "parentHash": blk.ParentHash == nil, "timestamp": blk.Timestamp == nil} {
		if missing {
			return bd, fmt.Errorf("eth_getBlockByNumber: the block has no %s", field)
		}
	}
	height := blk.Number.ToInt().Int64()
	// Callers name the block; messages here name the method and field.
	where := fmt.Errorf
	t := int64(*blk.Timestamp)
	bd.Block = chains.Block{Chain: chains.Ethereum, Height: height, Hash: chains.Hash(*blk.Hash), PrevHash: chains.Hash(*blk.ParentHash),
		MerkleRoot: chains.Hash(blk.TxRoot), Time: t, Size: uint32(blk.Size), TxCount: uint32(len(blk.Transactions))}
	if len(b.Receipts) != len(blk.Transactions) {
		return bd, where("eth_getBlockReceipts: %d receipts for %d transactions", len(b.Receipts), len(blk.Transactions))
	}
	// Each transaction's calls, by transaction index.
	traces := map[int][]*Trace{}
	for i := range b.Traces {
		tr := &b.Traces[i]
		traces[tr.TxIndex] = append(traces[tr.TxIndex], tr)
	}
	for i := range blk.Transactions {
		rt := &blk.Transactions[i]
		rc := &b.Receipts[i]
		if rt.Hash == nil || rt.From == nil || rt.Value == nil {
			return bd, where("eth_getBlockByNumber: transaction %d lacks hash, from or value", i)
		}
		if rc.TxHash == nil || *rc.TxHash != *rt.Hash {
			return bd, where("receipt %d is for transaction %v, not %s", i, rc.TxHash, rt.Hash.Hex())
		}
		if rc.GasUsed == nil {
			return bd, where("receipt of %s lacks gasUsed", rt.Hash.Hex())
		}
		tx := chains.AccountTx{Chain: chains.Ethereum, Hash: chains.Hash(*rt.Hash), Height: height, Position: uint32(i), Time: t,
			Type: uint8(rt.Type), Nonce: uint64(rt.Nonce), From: Addr(*rt.From), Value: new(big.Int).Set(rt.Value.ToInt()),
			Gas: uint64(rt.Gas), GasUsed: uint64(*rc.GasUsed)}
		if rt.To != nil {
			tx.To = Addr(*rt.To)
		}
		if len(rt.Input) >= 4 {
			tx.Input4 = append([]byte(nil), rt.Input[:4]...)
		}
		switch {
		case rc.EffectiveGasPrice != nil:
			tx.GasPrice = new(big.Int).Set(rc.EffectiveGasPrice.ToInt())
		case rt.GasPrice != nil:
			tx.GasPrice = new(big.Int).Set(rt.GasPrice.ToInt())
		default:
			return bd, where("transaction %s: neither the receipt's effectiveGasPrice nor the transaction's gasPrice is given", rt.Hash.Hex())
		}
		tx.Fee = new(big.Int).Mul(tx.GasPrice, new(big.Int).SetUint64(tx.GasUsed))
		// Of the fee, the base fee and the blob fee are burnt; the rest
		// (all of it before London) is the block's miner's tip.
		burnt := new(big.Int)
		if blk.BaseFee != nil {
			burnt.Mul(blk.BaseFee.ToInt(), new(big.Int).SetUint64(tx.GasUsed))
		}
		tip := new(big.Int).Sub(tx.Fee, burnt)
		if tip.Sign() < 0 {
			return bd, where("transaction %s: effective gas price %s is below the block's base fee %s", rt.Hash.Hex(), tx.GasPrice, blk.BaseFee.ToInt())
		}
		if rc.BlobGasUsed != nil && rc.BlobGasPrice != nil {
			blob := new(big.Int).Mul(rc.BlobGasPrice.ToInt(), new(big.Int).SetUint64(uint64(*rc.BlobGasUsed)))
			tx.Fee.Add(tx.Fee, blob)
			burnt.Add(burnt, blob)
		}
		// Success: the receipt's status since Byzantium; before it, the
		// top-level call's error in the trace. Without either, a
		// transaction that used all its gas is taken as failed (what a
		// pre-Byzantium failure always did) and any other as successful.
		txTraces := traces[i]
		switch {
		case rc.Status != nil:
			tx.Success = *rc.Status == 1
		case len(txTraces) > 0 && len(txTraces[0].TraceAddress) == 0:
			tx.Success = txTraces[0].Success
		default:
			tx.Success = tx.GasUsed < tx.Gas
		}
		if rc.ContractAddress != nil && rt.To == nil {
			tx.Created = Addr(*rc.ContractAddress)
		}
		bd.AccountTxs = append(bd.AccountTxs, tx)

		base := chains.Transfer{Chain: chains.Ethereum, Height: height, Time: t, TxHash: tx.Hash, TxIndex: uint32(i)}
		// The fee first: it is paid whatever the outcome, before the value
		// moves; the tip to the miner, the rest burnt (no To).
		if tip.Sign() > 0 {
			tr := base
			tr.Kind, tr.Position, tr.From, tr.To, tr.Amount, tr.Success = chains.TransferFee, "fee", tx.From, Addr(blk.Miner), tip, true
			bd.Transfers = append(bd.Transfers, tr)
		}
		if burnt.Sign() > 0 {
			tr := base
			tr.Kind, tr.Position, tr.From, tr.Amount, tr.Success = chains.TransferFee, "fee:burnt", tx.From, burnt, true
			bd.Transfers = append(bd.Transfers, tr)
		}
		// The transaction's own value, or the contract it created.
		if rt.To == nil {
			tr := base
			tr.Kind, tr.From, tr.To, tr.Amount, tr.Success = chains.TransferCreate, tx.From, tx.Created, tx.Value, tx.Success
			bd.Transfers = append(bd.Transfers, tr)
		} else if tx.Value.Sign() > 0 {
			tr := base
			tr.Kind, tr.From, tr.To, tr.Amount, tr.Success = chains.TransferNative, tx.From, tx.To, tx.Value, tx.Success
			bd.Transfers = append(bd.Transfers, tr)
		}
		// Internal calls. A trace's success already folds in its
		// ancestors'; the transaction's outcome is folded in too, since a
		// reverted transaction undoes every call in it.
		for _, trc := range txTraces {
			if trc.TxHash != (common.Hash{}) && trc.TxHash != *rt.Hash {
				return bd, where("trace of transaction %d is for %s, not %s", i, trc.TxHash.Hex(), rt.Hash.Hex())
			}
			if len(trc.TraceAddress) == 0 {
				continue // the transaction itself, recorded above
			}
			if trc.Incomplete != "" {
				b.Incomplete = append(b.Incomplete, fmt.Sprintf("transaction %s, frame %s: %s", rt.Hash.Hex(), trc.AddressString(), trc.Incomplete))
				continue
			}
			tr := base
			tr.Position = "call:" + strings.ReplaceAll(trc.AddressString(), ",", ".")
			tr.From, tr.To, tr.Amount = Addr(trc.From), Addr(trc.To), trc.Value
			tr.Success = trc.Success && tx.Success
			switch {
			case trc.Type == "create":
				tr.Kind = chains.TransferCreate
				if trc.To == (common.Address{}) {
					tr.To = ""
				}
			case trc.Type == "suicide" && trc.Value.Sign() > 0:
				tr.Kind = chains.TransferDestruct
			case trc.Type == "call" && trc.CallType == "call" && trc.Value.Sign() > 0:
				tr.Kind = chains.TransferInternal
			default:
				continue // delegatecall, staticcall, callcode and zero-value calls move nothing
			}
			bd.Transfers = append(bd.Transfers, tr)
		}
		// Token transfers from the receipt's logs.
		for _, lg := range rc.Logs {
			if lg.Removed {
				continue
			}
			bd.Transfers = append(bd.Transfers, tokenTransfers(base, &lg, tx.Success)...)
		}
	}
	for i := range b.Traces {
		tr := &b.Traces[i]
		if tr.Type != "reward" {
			continue
		}
		// Some nodes list the block's withdrawals among trace_block's
		// rewards too; they are read from the block (below), once.
		if tr.RewardType == "withdrawal" && len(blk.Withdrawals) > 0 {
			continue
		}
		bd.Transfers = append(bd.Transfers, chains.Transfer{Chain: chains.Ethereum, Height: height, Time: t,
			Position: "reward:" + strconv.Itoa(i), Kind: chains.TransferReward, To: Addr(tr.To), Amount: tr.Value, Success: true})
	}
	gwei := big.NewInt(1e9)
	for _, w := range blk.Withdrawals {
		bd.Transfers = append(bd.Transfers, chains.Transfer{Chain: chains.Ethereum, Height: height, Time: t,
			Position: "withdrawal:" + strconv.FormatUint(uint64(w.Index), 10), Kind: chains.TransferWithdrawal,
			To: Addr(w.Address), Amount: new(big.Int).Mul(w.Amount.ToInt(), gwei), Success: true})
	}
	return bd, nil
}

// tokenTransfers reads the ERC-20, ERC-721 and ERC-1155 transfers a log
// records. Like ethereum-etl, a Transfer log's indexed and data words are
// read as one list, so tokens that index none of their parameters count
// too; a log of any other shape is not a transfer.
func tokenTransfers(base chains.Transfer, lg *rpcLog, success bool) []chains.Transfer {
	if len(lg.Topics) == 0 || len(lg.Data)%32 != 0 {
		return nil
	}
	base.Position = "log:" + strconv.FormatUint(uint64(lg.LogIndex), 10)
	base.Asset = Addr(lg.Address)
	base.Success = success
	words := make([][]byte, 0, len(lg.Topics)-1+len(lg.Data)/32)
	for _, t := range lg.Topics[1:] {
		words = append(words, t.Bytes())
	}
	for i := 0; i < len(lg.Data); i += 32 {
		words = append(words, lg.Data[i:i+32])
	}
	addr := func(w []byte) chains.Address { return Addr(common.BytesToAddress(w)) }
	num := func(w []byte) *big.Int { return new(big.Int).SetBytes(w) }
	switch lg.Topics[0] {
	case topicTransfer:
		if len(words) != 3 {
			return nil
		}
		tr := base
		tr.From, tr.To = addr(words[0]), addr(words[1])
		if len(lg.Topics) == 4 {
			tr.Kind, tr.Amount, tr.TokenID = chains.TransferERC721, big.NewInt(1), num(words[2])
		} else {
			tr.Kind, tr.Amount = chains.TransferERC20, num(words[2])
		}
		return []chains.Transfer{tr}
	case topicTransferSingle:
		if len(lg.Topics) != 4 || len(words) != 5 {
			return nil
		}
		tr := base
		tr.Kind, tr.From, tr.To, tr.TokenID, tr.Amount = chains.TransferERC1155, addr(words[1]), addr(words[2]), num(words[3]), num(words[4])
		return []chains.Transfer{tr}
	case topicTransferBatch:
		if len(lg.Topics) != 4 {
			return nil
		}
		ids, vals, ok := decodeTwoUintArrays(lg.Data)
		if !ok || len(ids) != len(vals) {
			return nil
		}
		out := make([]chains.Transfer, len(ids))
		for i := range ids {
			tr := base
			tr.Position = base.Position + "." + strconv.Itoa(i)
			tr.Kind, tr.From, tr.To, tr.TokenID, tr.Amount = chains.TransferERC1155, addr(words[1]), addr(words[2]), ids[i], vals[i]
			out[i] = tr
		}
		return out
	}
	return nil
}

// decodeTwoUintArrays decodes ABI-encoded (uint256[], uint256[]),
// refusing offsets and lengths that point outside the data.
func decodeTwoUintArrays(data []byte) (a, b []*big.Int, ok bool) {
	word := func(off uint64) (*big.Int, bool) {
		if off+32 > uint64(len(data)) || off+32 < off {
			return nil, false
		}
		return new(big.Int).SetBytes(data[off : off+32]), true
	}
	array := func(at uint64) ([]*big.Int, bool) {
		offw, ok := word(at)
		if !ok || !offw.IsUint64() {
			return nil, false
		}
		off := offw.Uint64()
		nw, ok := word(off)
		if !ok || !nw.IsUint64() || nw.Uint64() > uint64(len(data))/32 {
			return nil, false
		}
		n := nw.Uint64()
		out := make([]*big.Int, n)
		for i := uint64(0); i < n; i++ {
			if out[i], ok = word(off + 32 + 32*i); !ok {
				return nil, false
			}
		}
		return out, true
	}
	if a, ok = array(0); !ok {
		return nil, nil, false
	}
	b, ok = array(32)
	return a, b, ok
}

// flattenCallFrames turns one transaction's callTracer tree into traces,
// depth first, as trace_block lists them.
func flattenCallFrames(txIndex int, txHash common.Hash, root *callFrame) []Trace {
	var out []Trace
	var walk func(f *callFrame, path []int, parentOK bool)
	walk = func(f *callFrame, path []int, parentOK bool) {
		t := Trace{TxIndex: txIndex, TxHash: txHash, TraceAddress: append([]int(nil), path...), Error: f.Error}
		if f.From != nil {
			t.From = *f.From
		} else {
			t.Incomplete = "a " + f.Type + " frame without from"
		}
		if f.To != nil {
			t.To = *f.To
		}
		t.Value = new(big.Int)
		if f.Value != nil {
			t.Value.Set(f.Value.ToInt())
		}
		switch typ := strings.ToLower(f.Type); typ {
		case "create", "create2":
			t.Type = "create"
			if f.Error != "" {
				t.To = common.Address{}
			}
		case "selfdestruct":
			t.Type = "suicide"
			if f.To == nil || f.Value == nil {
				t.Incomplete = "a SELFDESTRUCT frame without to or value (an older geth's callTracer): the beneficiary or the amount it moved is unknown"
			}
		default:
			t.Type, t.CallType = "call", typ
		}
		t.Success = parentOK && f.Error == ""
		out = append(out, t)
		for i := range f.Calls {
			walk(&f.Calls[i], append(path, i), t.Success)
		}
	}
	walk(root, nil, true)
	return out
}

// parityTraces turns trace_block's answer into traces. Each trace's
// success folds in its ancestors' errors, found by trace address.
func parityTraces(raw []parityTrace) ([]Trace, error) {
	out := make([]Trace, 0, len(raw))
	failed := map[string]bool{} // "txpos/0,1" of calls that failed, with their subtrees
	for i := range raw {
		p := &raw[i]
		t := Trace{TxIndex: -1, TraceAddress: append([]int(nil), p.TraceAddress...), Type: p.Type, CallType: p.Action.CallType, Error: p.Error}
		if p.TxPosition != nil {
			t.TxIndex = *p.TxPosition
		}
		if p.TxHash != nil {
			t.TxHash = *p.TxHash
		}
		get := func(a *common.Address) common.Address {
			if a == nil {
				return common.Address{}
			}
			return *a
		}
		val := func(v *hexutil.Big) *big.Int {
			if v == nil {
				return new(big.Int)
			}
			return new(big.Int).Set(v.ToInt())
		}
		switch p.Type {
		case "call":
			t.From, t.To, t.Value = get(p.Action.From), get(p.Action.To), val(p.Action.Value)
		case "create":
			t.From, t.Value = get(p.Action.From), val(p.Action.Value)
			if p.Result != nil {
				t.To = get(p.Result.Address)
			}
		case "suicide":
			t.From, t.To, t.Value = get(p.Action.Address), get(p.Action.RefundAddress), val(p.Action.Balance)
		case "reward":
			t.To, t.Value, t.RewardType = get(p.Action.Author), val(p.Action.Value), p.Action.RewardType
		default:
			return nil, fmt.Errorf("trace %d: unknown trace type %q", i, p.Type)
		}
		key := func(path []int) string {
			return strconv.Itoa(t.TxIndex) + "/" + fmt.Sprint(path)
		}
		ok := p.Error == ""
		for n := 0; n < len(t.TraceAddress) && ok; n++ {
			if failed[key(t.TraceAddress[:n])] {
				ok = false
			}
		}
		if !ok {
			failed[key(t.TraceAddress)] = true
		}
		t.Success = ok
		out = append(out, t)
	}
	return out, nil
}
