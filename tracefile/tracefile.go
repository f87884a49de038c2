// Package tracefile is the trace file: what fundtrace trace --out writes
// and freeze, report and verify read (docs/tracing.md describes it). Its
// field names are stable within a schema version; a reader refuses
// another version with a message.
package tracefile

import (
	"encoding/json"
	"fmt"
	"math/big"
	"os"
)

// Schema names the trace file format; docs/trace-json.md describes it.
const Schema = "fundtrace-trace/1"

// Trace is the trace as written for machines, freeze and report.
// Keep field names stable: scripts read them (docs/trace-json.md).
// Amounts are decimal strings in the asset's base units (satoshi, wei, a
// token's smallest unit), never floats.
type Trace struct {
	Schema     string           `json:"schema"`
	Direction  string           `json:"direction"` // forward or backward
	Models     []string         `json:"models"`
	Params     Params           `json:"params"`
	Assets     map[string]Asset `json:"assets"` // by asset id: BTC, ETH, or a token's contract
	Seeds      []Seed           `json:"seeds"`
	Nodes      []Node           `json:"nodes"`
	Flows      []Flow           `json:"flows"`
	Deposits   []Deposit        `json:"deposits"`
	Exchanges  []Exchange       `json:"exchanges"`
	Origins    []Origin         `json:"origins,omitempty"`
	PeelChains []PeelChain      `json:"peel_chains"`
	Stops      []Stop           `json:"stops"`
	StopCounts map[string]int   `json:"stop_counts"`
	Stats      []Stats          `json:"stats"`
}

type Params struct {
	MaxHops       int               `json:"max_hops"`
	MinAmount     map[string]string `json:"min_amount"`
	MaxNodes      int               `json:"max_nodes"`
	ThroughMixers bool              `json:"through_mixers"`
	From          string            `json:"from,omitempty"`
	Until         string            `json:"until,omitempty"`
}

type Asset struct {
	Chain    string `json:"chain"`
	Symbol   string `json:"symbol"`
	Decimals int    `json:"decimals"`
}

type Seed struct {
	Chain    string `json:"chain"`
	Victim   string `json:"victim"`
	Tx       string `json:"txid"`
	Outpoint string `json:"outpoint,omitempty"` // Bitcoin
	Position string `json:"position,omitempty"` // Ethereum: "" the value, log:N a token transfer
	Address  string `json:"address"`            // who was paid
	Asset    string `json:"asset"`
	Amount   string `json:"amount"`
	Height   int64  `json:"height"`
	Time     string `json:"time"`
}

// Node is a node of the flow graph: an address, with its label and
// cluster when known.
type Node struct {
	Chain       string `json:"chain"`
	Address     string `json:"address"`
	Role        string `json:"role"` // seed, intermediate, deposit, exchange, service, origin
	Label       string `json:"label,omitempty"`
	Category    string `json:"category,omitempty"`
	Cluster     uint32 `json:"cluster,omitempty"`
	ClusterSize uint32 `json:"cluster_size,omitempty"`
	// ClusterFlagged: the cluster was built through a multi-input merge
	// of two clusters over the super-cluster guard's size (fundtrace
	// cluster suspects lists it); its attribution deserves a second look.
	ClusterFlagged bool `json:"cluster_flagged_merge,omitempty"`
}

// Flow is an edge of the flow graph: a transaction moving tainted
// money from addresses to one output (Bitcoin) or by one transfer
// (Ethereum), with what it carries of all seeds together per model.
type Flow struct {
	Chain    string   `json:"chain"`
	Tx       string   `json:"txid"`
	Height   int64    `json:"height"`
	Time     string   `json:"time"`
	Hop      int      `json:"hop"`
	Asset    string   `json:"asset"`
	From     []string `json:"from"`
	To       string   `json:"to"`
	Outpoint string   `json:"outpoint,omitempty"`
	Position string   `json:"position,omitempty"`
	Value    string   `json:"value"`
	Haircut  string   `json:"haircut"`
	FIFO     string   `json:"fifo"`
	Poison   bool     `json:"poison"`
	Peel     bool     `json:"peel,omitempty"`
	CoinJoin bool     `json:"coinjoin,omitempty"` // money went through a CoinJoin here
}

type Deposit struct {
	Chain    string `json:"chain"`
	Exchange string `json:"exchange"`
	Address  string `json:"deposit_address"`
	Tx       string `json:"txid"`
	Outpoint string `json:"outpoint,omitempty"`
	Position string `json:"position,omitempty"`
	Height   int64  `json:"height"`
	Time     string `json:"time"`
	Asset    string `json:"asset"`
	Value    string `json:"value"`
	Victim   string `json:"victim"`
	Haircut  string `json:"haircut"`
	FIFO     string `json:"fifo"`
	Poison   string `json:"poison"`
	Hop      int    `json:"hop"`
	Evidence string `json:"evidence"`
}

type Exchange struct {
	Exchange  string           `json:"exchange"`
	Deposits  int              `json:"deposits"`
	FirstSeen string           `json:"first_seen"`
	LastSeen  string           `json:"last_seen"`
	Addresses []DepositAddress `json:"deposit_addresses"`
}

type DepositAddress struct {
	Chain     string                       `json:"chain"`
	Address   string                       `json:"address"`
	Deposits  int                          `json:"deposits"`
	FirstSeen string                       `json:"first_seen"`
	LastSeen  string                       `json:"last_seen"`
	Totals    map[string]map[string]string `json:"totals"` // asset → model → amount
	Victims   []string                     `json:"victims"`
}

type Origin struct {
	Chain    string `json:"chain"`
	Victim   string `json:"victim"`
	Reason   string `json:"reason"` // labeled, coinbase, reward, withdrawal, mint, pre-existing, max-hops, max-nodes, max-history
	Category string `json:"category,omitempty"`
	Name     string `json:"name,omitempty"`
	Address  string `json:"address,omitempty"`
	Tx       string `json:"txid"`
	Outpoint string `json:"outpoint,omitempty"`
	Position string `json:"position,omitempty"`
	Height   int64  `json:"height"`
	Time     string `json:"time"`
	Hop      int    `json:"hop"`
	Asset    string `json:"asset"`
	Haircut  string `json:"haircut"`
	FIFO     string `json:"fifo"`
	Poison   string `json:"poison"`
}

type PeelChain struct {
	Chain  string   `json:"chain"`
	Steps  int      `json:"steps"`
	Txs    []string `json:"txids"`
	Rest   []string `json:"rest"`   // the address the rest went on to, step by step
	Peeled []string `json:"peeled"` // the address paid, step by step
	Start  string   `json:"start_time"`
	End    string   `json:"end_time"`
}

type Stop struct {
	Chain   string `json:"chain"`
	Reason  string `json:"reason"`
	Where   string `json:"where"` // an outpoint (Bitcoin) or an address (Ethereum)
	Asset   string `json:"asset,omitempty"`
	Tx      string `json:"txid,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Haircut string `json:"haircut,omitempty"`
	FIFO    string `json:"fifo,omitempty"`
}

type Stats struct {
	Chain   string `json:"chain"`
	Hops    int    `json:"hops"`
	Queries int    `json:"store_queries"`
	Visited int    `json:"visited"` // coins (Bitcoin) or addresses (Ethereum) followed
}

// Read reads a trace file, refusing another schema with a message.
func Read(p string) (*Trace, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return Parse(b, p)
}

// Parse reads a trace file's bytes; name says where they came from.
func Parse(b []byte, name string) (*Trace, error) {
	var probe struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%s: not a trace file: %w", name, err)
	}
	if probe.Schema != Schema {
		if probe.Schema == "" {
			return nil, fmt.Errorf("%s: no schema field: not written by fundtrace trace --out of this version (want %s)", name, Schema)
		}
		return nil, fmt.Errorf("%s: schema %q, this fundtrace reads %q: re-run the trace with this version", name, probe.Schema, Schema)
	}
	var t Trace
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &t, nil
}

// Marshal renders a trace as the file holds it (indented, newline-ended).
func Marshal(t *Trace) ([]byte, error) {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// AddUnits adds two amounts written in base units (decimal strings, as the
// file holds them); "" counts as zero.
func AddUnits(a, b string) string {
	x, ok := new(big.Int).SetString(a, 10)
	if !ok {
		x = new(big.Int)
	}
	y, ok := new(big.Int).SetString(b, 10)
	if !ok {
		y = new(big.Int)
	}
	return x.Add(x, y).String()
}
