package explore

import (
	"context"
	"fmt"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
)

// Output is a transaction's output and, once spent, what spent it.
type Output struct {
	Index     uint32    `json:"index"`
	Value     int64     `json:"value"` // satoshis
	Type      string    `json:"type"`
	Addresses []string  `json:"addresses"`
	SpentBy   *SpendRef `json:"spent_by,omitempty"`
}

// SpendRef names the input that spent an output.
type SpendRef struct {
	TxHash string `json:"tx_hash"`
	Vin    uint32 `json:"input_index"`
	Height int64  `json:"height"`
}

// Input is a transaction's input with the output it spends.
type Input struct {
	Index     uint32   `json:"index"`
	Coinbase  bool     `json:"coinbase,omitempty"`
	PrevHash  string   `json:"spent_tx_hash,omitempty"`
	PrevIndex uint32   `json:"spent_output_index"`
	Value     int64    `json:"value"`
	Type      string   `json:"type,omitempty"`
	Addresses []string `json:"addresses"`
}

// Tx is a Bitcoin transaction: where it is, what it spent (with the
// addresses and values it spent) and what it paid, each output with the
// transaction that spent it.
type Tx struct {
	Chain       string   `json:"chain"`
	Hash        string   `json:"hash"`
	BlockHeight int64    `json:"block_height"`
	BlockHash   string   `json:"block_hash"`
	BlockTime   int64    `json:"block_time"`
	Position    uint32   `json:"position"`
	Version     int32    `json:"version"`
	LockTime    uint32   `json:"lock_time"`
	Size        uint32   `json:"size"`
	VSize       uint32   `json:"vsize"`
	Coinbase    bool     `json:"coinbase"`
	InputValue  int64    `json:"input_value"`
	OutputValue int64    `json:"output_value"`
	Fee         int64    `json:"fee"`
	Inputs      []Input  `json:"inputs"`
	Outputs     []Output `json:"outputs"`
}

func encodeAll(n *bitcoin.Network, as []chains.Address) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = n.MustEncode(a)
	}
	return out
}

// BitcoinTx reads Bitcoin transaction h; ErrNotFound when the store does
// not have it.
func (e *Explorer) BitcoinTx(ctx context.Context, h chains.Hash) (*Tx, error) {
	net, err := e.Network(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := e.st.Tx(ctx, chains.Bitcoin, h)
	if err != nil {
		return nil, fmt.Errorf("btc transaction %s: %w", h, err)
	}
	blk, _, err := e.st.BlockByHeight(ctx, chains.Bitcoin, tx.Height)
	if err != nil {
		return nil, fmt.Errorf("btc block %d: %w", tx.Height, err)
	}
	ops := make([]chains.Outpoint, len(tx.Outputs))
	for i := range tx.Outputs {
		ops[i] = chains.Outpoint{Hash: tx.Hash, Index: tx.Outputs[i].Index}
	}
	spends, spent, err := e.st.Spenders(ctx, chains.Bitcoin, ops)
	if err != nil {
		return nil, err
	}
	j := &Tx{Chain: "btc", Hash: tx.Hash.String(), BlockHeight: tx.Height, BlockHash: blk.Hash.String(), BlockTime: tx.Time,
		Position: tx.Position, Version: tx.Version, LockTime: tx.LockTime, Size: tx.Size, VSize: tx.VSize, Coinbase: tx.Coinbase, Fee: tx.Fee(),
		Inputs: []Input{}, Outputs: []Output{}}
	for _, in := range tx.Inputs {
		ij := Input{Index: in.Index, Coinbase: in.Coinbase, Addresses: []string{}}
		if !in.Coinbase {
			ij.PrevHash, ij.PrevIndex, ij.Value = in.Prev.Hash.String(), in.Prev.Index, in.Prevout.Value
			ij.Type, ij.Addresses = in.Prevout.Type.String(), encodeAll(net, in.Prevout.Addresses)
			j.InputValue += in.Prevout.Value
		}
		j.Inputs = append(j.Inputs, ij)
	}
	for i, o := range tx.Outputs {
		oj := Output{Index: o.Index, Value: o.Value, Type: o.Type.String(), Addresses: encodeAll(net, o.Addresses)}
		if spent[i] {
			oj.SpentBy = &SpendRef{TxHash: spends[i].TxHash.String(), Vin: spends[i].Vin, Height: spends[i].Height}
		}
		j.OutputValue += o.Value
		j.Outputs = append(j.Outputs, oj)
	}
	return j, nil
}

// HistoryEntry is one payment to an address and what spent it.
type HistoryEntry struct {
	Height  int64     `json:"height"`
	Time    int64     `json:"time"`
	TxHash  string    `json:"tx_hash"`
	Vout    uint32    `json:"output_index"`
	Value   int64     `json:"value"`
	Type    string    `json:"type"`
	SpentBy *SpendRef `json:"spent_by,omitempty"`
	SpentAt int64     `json:"spent_time,omitempty"`
}

// Address is a Bitcoin address's totals over the indexed blocks and a
// page of its history (payments to it in chain order).
type Address struct {
	Chain         string `json:"chain"`
	Address       string `json:"address"`
	FirstSeen     int64  `json:"first_seen_height"`
	Received      int64  `json:"total_received"`
	Sent          int64  `json:"total_sent"`
	Balance       int64  `json:"balance"`
	Outputs       int    `json:"outputs"`
	UnspentOutput int    `json:"unspent_outputs"`
	// Truncated: the history holds only part of the entries (Offset
	// and the next page's NextOffset say which).
	Truncated  bool           `json:"truncated"`
	Offset     int            `json:"offset,omitempty"`
	NextOffset *int           `json:"next_offset,omitempty"`
	History    []HistoryEntry `json:"history"`
}

// BitcoinAddress reads address a's totals and the page p of its history;
// ErrNotFound when no indexed block paid it.
func (e *Explorer) BitcoinAddress(ctx context.Context, a chains.Address, p Page) (*Address, error) {
	p, err := p.check()
	if err != nil {
		return nil, err
	}
	net, err := e.Network(ctx)
	if err != nil {
		return nil, err
	}
	j := &Address{Chain: "btc", Address: net.MustEncode(a), History: []HistoryEntry{}, Offset: p.Offset}
	if j.FirstSeen, err = e.st.FirstSeen(ctx, chains.Bitcoin, a); err != nil {
		return nil, fmt.Errorf("btc address %s: %w", j.Address, err)
	}
	// The totals need the whole history; a page is cut from it.
	hist, err := e.st.AddressHistory(ctx, chains.Bitcoin, a, 0)
	if err != nil {
		return nil, err
	}
	j.Outputs = len(hist)
	for _, h := range hist {
		j.Received += h.Value
		if h.Spent {
			j.Sent += h.Value
		} else {
			j.UnspentOutput++
		}
	}
	j.Balance = j.Received - j.Sent
	lo, hi := p.window(len(hist))
	j.Truncated = lo > 0 || hi < len(hist)
	if hi < len(hist) {
		j.NextOffset = &hi
	}
	for _, h := range hist[lo:hi] {
		he := HistoryEntry{Height: h.Height, Time: h.Time, TxHash: h.TxHash.String(), Vout: h.Vout, Value: h.Value, Type: h.Type.String()}
		if h.Spent {
			he.SpentBy = &SpendRef{TxHash: h.SpentBy.TxHash.String(), Vin: h.SpentBy.Vin, Height: h.SpentBy.Height}
			he.SpentAt = h.SpentBy.Time
		}
		j.History = append(j.History, he)
	}
	return j, nil
}
