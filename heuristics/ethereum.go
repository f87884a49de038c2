package heuristics

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"

	"github.com/fundtrace/fundtrace/chains"
)

// Deposit is the Ethereum deposit-address heuristic (Victor 2020): an
// exchange gives each customer a deposit address and sweeps what arrives
// there into its hot wallet, so an address that forwards what it
// received to one collector, within Window blocks, for at least MinCount
// distinct forwarders of that collector, belongs with the collector. ETH
// and token sweeps both count; a forward must empty the address (what is
// left is under a tenth of what it sends: a sweep leaves at most the gas)
// within Window blocks of the last money arriving.
type Deposit struct {
	Window   int64 // blocks between receiving and forwarding (default 1,000)
	MinCount int   // distinct forwarders a collector needs (default 3)

	inbox      map[string]*arrival // asset+address → its balance and last arrival
	forwarders map[chains.Address]map[chains.Address]chains.Hash
}

// DepositName is the heuristic's name in links and flags.
const DepositName = "deposit"

func init() {
	Confidence[DepositName] = "high for exchanges: deposit addresses forward to one hot wallet (Victor 2020); parameters: forwarding window and minimum forwarders"
}

// arrival is an address's balance of one asset as its transfers tell it,
// and when money last arrived.
type arrival struct {
	balance *big.Int
	height  int64
}

// Observe feeds one successful transfer, in chain order.
func (d *Deposit) Observe(t *chains.Transfer) {
	if !t.Success || t.Amount == nil || t.Amount.Sign() <= 0 || t.To == "" {
		return
	}
	if d.inbox == nil {
		d.inbox, d.forwarders = map[string]*arrival{}, map[chains.Address]map[chains.Address]chains.Hash{}
	}
	if d.Window <= 0 {
		d.Window = 1000
	}
	asset := string(t.Asset)
	if t.From != "" {
		if in := d.inbox[asset+string(t.From)]; in != nil {
			// A forward empties the address soon after money arrived: what
			// is left (of what the transfers brought; gas is not seen
			// here) is under a tenth of what it sends.
			in.balance.Sub(in.balance, t.Amount)
			left := new(big.Int).Mul(in.balance, big.NewInt(10))
			if t.Height-in.height <= d.Window && left.Cmp(t.Amount) <= 0 && t.From != t.To {
				fw := d.forwarders[t.To]
				if fw == nil {
					fw = map[chains.Address]chains.Hash{}
					d.forwarders[t.To] = fw
				}
				if _, ok := fw[t.From]; !ok {
					fw[t.From] = t.TxHash
				}
			}
		}
	}
	k := asset + string(t.To)
	if in := d.inbox[k]; in != nil {
		in.balance.Add(in.balance, t.Amount)
		in.height = t.Height
	} else {
		d.inbox[k] = &arrival{balance: new(big.Int).Set(t.Amount), height: t.Height}
	}
}

// Links returns, for every collector with at least MinCount forwarders,
// a link from each forwarder to it (the evidence: its first forward).
func (d *Deposit) Links() []Link {
	if d.MinCount <= 0 {
		d.MinCount = 3
	}
	// A collector (a hot wallet) does not itself forward to a collector:
	// an address that does is a deposit address, whatever sends to it.
	forwards := map[chains.Address]bool{}
	for _, fw := range d.forwarders {
		if len(fw) >= d.MinCount {
			for from := range fw {
				forwards[from] = true
			}
		}
	}
	var out []Link
	for to, fw := range d.forwarders {
		if len(fw) < d.MinCount || forwards[to] {
			continue
		}
		for from, tx := range fw {
			out = append(out, Link{A: to, B: from, Heuristic: DepositName, Tx: tx})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].A != out[j].A {
			return out[i].A < out[j].A
		}
		return out[i].B < out[j].B
	})
	return out
}

// DepositState is what the heuristic has learnt from the transfers it has
// seen, so that a later run can go on from where this one stopped.
type DepositState struct {
	Window     int64                        `json:"window"`
	MinCount   int                          `json:"min_count"`
	Inbox      map[string]depositArrival    `json:"inbox"`      // hex(asset+address) → balance, height
	Forwarders map[string]map[string]string `json:"forwarders"` // hex(collector) → hex(forwarder) → tx
}

type depositArrival struct {
	Balance string `json:"b"`
	Height  int64  `json:"h"`
}

// State returns what the heuristic has learnt.
func (d *Deposit) State() DepositState {
	st := DepositState{Window: d.Window, MinCount: d.MinCount, Inbox: map[string]depositArrival{}, Forwarders: map[string]map[string]string{}}
	for k, a := range d.inbox {
		st.Inbox[hex.EncodeToString([]byte(k))] = depositArrival{a.balance.String(), a.height}
	}
	for to, fw := range d.forwarders {
		m := map[string]string{}
		for from, tx := range fw {
			m[hex.EncodeToString([]byte(from))] = tx.String()
		}
		st.Forwarders[hex.EncodeToString([]byte(to))] = m
	}
	return st
}

// Restore goes on from a saved state.
func (d *Deposit) Restore(st DepositState) error {
	d.Window, d.MinCount = st.Window, st.MinCount
	d.inbox, d.forwarders = map[string]*arrival{}, map[chains.Address]map[chains.Address]chains.Hash{}
	for k, a := range st.Inbox {
		key, err := hex.DecodeString(k)
		b, ok := new(big.Int).SetString(a.Balance, 10)
		if err != nil || !ok {
			return fmt.Errorf("deposit state: bad inbox entry %q", k)
		}
		d.inbox[string(key)] = &arrival{balance: b, height: a.Height}
	}
	for to, fw := range st.Forwarders {
		t, err := hex.DecodeString(to)
		if err != nil {
			return fmt.Errorf("deposit state: %w", err)
		}
		m := map[chains.Address]chains.Hash{}
		for from, tx := range fw {
			f, err := hex.DecodeString(from)
			if err != nil {
				return fmt.Errorf("deposit state: %w", err)
			}
			h, err := chains.ParseHash(tx)
			if err != nil {
				return fmt.Errorf("deposit state: %w", err)
			}
			m[chains.Address(f)] = h
		}
		d.forwarders[chains.Address(t)] = m
	}
	return nil
}
