package clickhouse_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/txcodec"
)

// pathRows is the size of each table of TestAccessPathsReadFewRows.
const pathRows = 1_000_000

// The fixture's keys, computed the same way in SQL (fixtureSQL) and here:
// a transaction's id from its number, an address from its number.
const (
	hashSQL = `toFixedString(concat(MD5(toString(%[1]s)), MD5(concat('s', toString(%[1]s)))), 32)`
	addrSQL = `concat(unhex('01'), substring(MD5(toString(%[1]s)), 1, 16), substring(MD5(concat('a', toString(%[1]s))), 1, 4))`
	ethSQL  = `concat(unhex('08'), substring(MD5(toString(%[1]s)), 1, 16), substring(MD5(concat('a', toString(%[1]s))), 1, 4))`
)

func pathHash(n int) chains.Hash {
	a, b := md5.Sum([]byte(strconv.Itoa(n))), md5.Sum([]byte("s"+strconv.Itoa(n)))
	var h chains.Hash
	copy(h[:16], a[:])
	copy(h[16:], b[:])
	return h
}

func pathAddr(n int) chains.Address { return pathAddrKind(1, n) }

func pathAddrKind(kind byte, n int) chains.Address {
	a, b := md5.Sum([]byte(strconv.Itoa(n))), md5.Sum([]byte("a"+strconv.Itoa(n)))
	return chains.Address(append(append([]byte{kind}, a[:16]...), b[:4]...))
}

// fixtureSQL fills every table an access path reads with pathRows rows
// (Bitcoin: four transactions a block, four payments an address, ten
// addresses a cluster; Ethereum: four transfers an address) on the server, faster than any writer could.
func fixtureSQL(db string) []string {
	h := func(x string) string { return fmt.Sprintf(hashSQL, x) }
	a := func(x string) string { return fmt.Sprintf(addrSQL, x) }
	e := func(x string) string { return fmt.Sprintf(ethSQL, x) }
	le := func(x string, n int) string { return fmt.Sprintf("toFixedString(reinterpretAsString(%s), %d)", x, n) }
	return []string{
		`INSERT INTO {db}.blocks (chain, height, hash, prev_hash, merkle_root, time, bits, size, txids)
			SELECT 'btc', number, ` + h("number + 5000000") + `, ` + h("number + 4999999") + `, ` + h("number") + `, 1600000000 + number, 0, 1000, [] FROM numbers({n})`,
		`INSERT INTO {db}.block_hashes (chain, hash, height) SELECT 'btc', ` + h("number + 5000000") + `, number FROM numbers({n})`,
		// Every row's record is one transaction's (its hash, height and
		// position are the row's own columns).
		`INSERT INTO {db}.tx_records (chain, height, position, txid, record)
			SELECT 'btc', intDiv(number, 4), toUInt32(number % 4), ` + h("number") + `, unhex('` + fixtureRecord() + `') FROM numbers({n})`,
		`INSERT INTO {db}.txid_places (chain, txid, height, position) SELECT 'btc', ` + h("number") + `, intDiv(number, 4), toUInt32(number % 4) FROM numbers({n})`,
		`INSERT INTO {db}.spenders (chain, height, entry) SELECT 'btc', intDiv(number, 4), toFixedString(concat('B', ` + h("number") + `, ` + le("toUInt32(0)", 4) + `, ` +
			h("number + 1") + `, ` + le("toUInt32(0)", 4) + `, ` + le("toUInt64(intDiv(number, 4))", 8) + `), 81) FROM numbers({n})`,
		`INSERT INTO {db}.address_history (chain, address, height, position, vout, value, type)
			SELECT 'btc', ` + a("number % 250000") + `, intDiv(number, 4), toUInt32(number % 4), 0, 900, 1 FROM numbers({n})`,
		`INSERT INTO {db}.cluster_runs (chain, run, base, json) SELECT 'btc', 1, 1, '{}'`,
		`INSERT INTO {db}.cluster_rows (chain, run, address, idx, cluster) SELECT 'btc', 1, ` + a("number") + `, toUInt32(number), toUInt32(intDiv(number, 10) * 10) FROM numbers({n})`,
		`INSERT INTO {db}.cluster_sizes (chain, run, cluster, size) SELECT 'btc', 1, toUInt32(number), 10 FROM numbers({n})`,
		`INSERT INTO {db}.cluster_links (chain, run, address, other, heuristic, txid) SELECT 'btc', 1, ` + a("number") + `, ` + a("number + 1") + `, 'multi-input', ` + h("number") + ` FROM numbers({n})`,
		`INSERT INTO {db}.labels (chain, address, key, version, json) SELECT 'btc', ` + a("number") + `, 'k', 1, '{"label":"x","category":"exchange"}' FROM numbers({n})`,
		// Ethereum: a transaction a block with one transfer each, four
		// transfers an address.
		`INSERT INTO {db}.eth_txs (chain, txid, height, position, time, type, nonce, from_address, to_address, value, gas, gas_used, gas_price, fee, success, created, selector)
			SELECT 'eth', ` + h("number") + `, number, 0, 1600000000 + number, 2, 0, ` + e("number % 250000") + `, ` + e("(number + 1) % 250000") + `,
			'1000', 21000, 21000, '1', '21000', 1, '', '' FROM numbers({n})`,
		`INSERT INTO {db}.transfers (chain, height, tx_index, seq, time, txid, position, kind, asset, from_address, to_address, amount, token_id, success)
			SELECT 'eth', number, 0, 0, 1600000000 + number, ` + h("number") + `, '', 1, '', ` + e("number % 250000") + `, ` + e("(number + 1) % 250000") + `, '1000', '', 1 FROM numbers({n})`,
		`INSERT INTO {db}.transfer_history (address, chain, height, tx_index, seq, time, txid, position, kind, asset, from_address, to_address, amount, token_id, success)
			SELECT ` + e("number % 250000") + `, 'eth', number, 0, 0, 1600000000 + number, ` + h("number") + `, '', 1, '', ` + e("number % 250000") + `, ` + e("(number + 1) % 250000") + `, '1000', '', 1 FROM numbers({n})`,
	}
}

// fixtureRecord is the hex of the record of fixtureSQL's transactions:
// one input spending 1,000 and one output of 900, each to one address.
func fixtureRecord() string {
	tx := chains.Tx{Chain: chains.Bitcoin, Time: 1600000000, Version: 2, Size: 200, VSize: 150,
		Inputs:  []chains.Input{{Sequence: 4294967295, Prev: chains.Outpoint{Hash: pathHash(2000000)}, Prevout: chains.Output{Value: 1000, Type: 1, Addresses: []chains.Address{pathAddr(0)}}}},
		Outputs: []chains.Output{{Value: 900, Type: 1, Addresses: []chains.Address{pathAddr(1)}}}}
	return hex.EncodeToString(txcodec.AppendTx(nil, &tx))
}

// TestAccessPathsReadFewRows: on tables of a million rows, every access
// path reads rows in proportion to the keys it asks for, as ClickHouse's
// progress reports count them: at most two granules a key for each table
// it reads, never a scan. Each path must also read something, so that a
// count that stayed at zero (no progress reported) fails.
func TestAccessPathsReadFewRows(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	for _, q := range fixtureSQL(st.Database()) {
		q = strings.NewReplacer("{db}", st.Database(), "{n}", strconv.Itoa(pathRows)).Replace(q)
		if err := st.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, c := range []chains.Chain{chains.Bitcoin, chains.Ethereum} {
		if err := st.SetTip(ctx, c, pathRows-1); err != nil {
			t.Fatal(err)
		}
	}
	const keys = 50
	var txids []chains.Hash
	var ops []chains.Outpoint
	var addrs, eths []chains.Address
	for i := range keys {
		n := (i*7919 + 13) * (pathRows / (keys * 7919 / 100)) % pathRows // spread over the table
		txids = append(txids, pathHash(n))
		ops = append(ops, chains.Outpoint{Hash: pathHash(n)})
		addrs = append(addrs, pathAddr(n))
		eths = append(eths, pathAddrKind(8, n%250000))
	}
	// Granularities, as the schema sets them.
	const (
		blocksG, hashesG, txsG, locG, spendG, histG, clG, labelG = 1024, 256, 256, 64, 64, 1024, 256, 256
		ethTxG, transferG, transferHistG                         = 256, 1024, 1024
	)
	paths := []struct {
		name  string
		limit uint64 // rows: two granules a key for each table read
		run   func(ctx context.Context) error
	}{
		{"txid → transaction", 2 * keys * (locG + txsG), func(ctx context.Context) error {
			txs, err := st.Txs(ctx, chains.Bitcoin, txids)
			if err == nil && txs[3].Hash != txids[3] {
				err = fmt.Errorf("tx %s for %s", txs[3].Hash, txids[3])
			}
			return err
		}},
		{"height → block", 2 * blocksG, func(ctx context.Context) error {
			b, _, err := st.BlockByHeight(ctx, chains.Bitcoin, pathRows/2)
			if err == nil && b.Height != pathRows/2 {
				err = fmt.Errorf("block %d", b.Height)
			}
			return err
		}},
		{"hash → block", 2 * (hashesG + blocksG), func(ctx context.Context) error {
			_, _, err := st.BlockByHash(ctx, chains.Bitcoin, pathHash(5000000+777))
			return err
		}},
		{"height → transactions in order", 100*4 + 2*8*txsG, func(ctx context.Context) error {
			n := 0
			err := st.EachTx(ctx, chains.Bitcoin, 100_000, 100_099, func(tx *chains.Tx) error { n++; return nil })
			if err == nil && n != 400 {
				err = fmt.Errorf("%d transactions, want 400", n)
			}
			return err
		}},
		{"outpoint → output (its transaction's record)", 2 * keys * (locG + txsG), func(ctx context.Context) error {
			outs, err := st.LookupOutputs(ctx, chains.Bitcoin, ops)
			if err == nil && (outs[0] == nil || outs[0].Value != 900) {
				err = fmt.Errorf("output %v", outs[0])
			}
			return err
		}},
		{"spent outpoint → spender", 2 * keys * spendG, func(ctx context.Context) error {
			_, found, err := st.Spenders(ctx, chains.Bitcoin, ops)
			if err == nil && !found[0] {
				err = fmt.Errorf("no spender of %s", ops[0])
			}
			return err
		}},
		// The history, its four payments' txids (by place, in
		// tx_records), then the times of their blocks.
		{"address → history", 2 * (histG + 4*txsG + 4*blocksG), func(ctx context.Context) error {
			h, err := st.AddressHistory(ctx, chains.Bitcoin, pathAddr(1234), 0)
			if err == nil && len(h) != 4 {
				err = fmt.Errorf("%d payments, want 4", len(h))
			}
			for i := 0; err == nil && i < len(h); i++ {
				if want := pathHash(1234 + i*250000); h[i].TxHash != want {
					err = fmt.Errorf("payment %d in tx %s, want %s", i, h[i].TxHash, want)
				}
			}
			return err
		}},
		{"address → first payment", 2 * histG, func(ctx context.Context) error {
			_, err := st.FirstSeen(ctx, chains.Bitcoin, pathAddr(1234))
			return err
		}},
		{"address → cluster", 2 * (clG + clG + 1), func(ctx context.Context) error {
			_, size, err := st.ClusterOf(ctx, chains.Bitcoin, pathAddr(4321))
			if err == nil && size != 10 {
				err = fmt.Errorf("cluster size %d", size)
			}
			return err
		}},
		{"addresses → clusters", 2*keys*(clG+clG) + 2, func(ctx context.Context) error {
			cl, err := st.ClustersOf(ctx, chains.Bitcoin, addrs)
			if err == nil && len(cl) != keys {
				err = fmt.Errorf("%d clusters for %d addresses", len(cl), keys)
			}
			return err
		}},
		{"address → cluster links", 2*clG + 2, func(ctx context.Context) error {
			ls, err := st.ClusterLinks(ctx, chains.Bitcoin, pathAddr(4321))
			if err == nil && len(ls) != 1 {
				err = fmt.Errorf("%d links", len(ls))
			}
			return err
		}},
		{"address → labels", 2 * labelG, func(ctx context.Context) error {
			ls, err := st.Labels(ctx, chains.Bitcoin, pathAddr(4321))
			if err == nil && len(ls) != 1 {
				err = fmt.Errorf("%d labels", len(ls))
			}
			return err
		}},
		{"addresses → labels", 2 * keys * labelG, func(ctx context.Context) error {
			ls, err := st.LabelsOf(ctx, chains.Bitcoin, addrs)
			if err == nil && len(ls) != keys {
				err = fmt.Errorf("labels of %d addresses", len(ls))
			}
			return err
		}},
		{"txid → account transaction", 2 * (ethTxG + transferG), func(ctx context.Context) error {
			tx, ts, err := st.AccountTx(ctx, chains.Ethereum, pathHash(424242))
			if err == nil && (tx.Height != 424242 || len(ts) != 1) {
				err = fmt.Errorf("tx at %d with %d transfers", tx.Height, len(ts))
			}
			return err
		}},
		{"height → block transfers", 2 * transferG, func(ctx context.Context) error {
			_, err := st.BlockTransfers(ctx, chains.Ethereum, 424242)
			return err
		}},
		{"address → transfers", 2 * transferHistG, func(ctx context.Context) error {
			ts, err := st.Transfers(ctx, chains.Ethereum, pathAddrKind(8, 4321), 0)
			if err == nil && len(ts) != 4 {
				err = fmt.Errorf("%d transfers, want 4", len(ts))
			}
			return err
		}},
		{"addresses → transfers", 2 * keys * transferHistG, func(ctx context.Context) error {
			ts, _, err := st.TransfersOf(ctx, chains.Ethereum, eths, 0, -1, 0)
			if err == nil && len(ts[0]) != 4 {
				err = fmt.Errorf("%d transfers, want 4", len(ts[0]))
			}
			return err
		}},
		{"addresses → transfers, limited", 2 * keys * transferHistG, func(ctx context.Context) error {
			ts, over, err := st.TransfersOf(ctx, chains.Ethereum, eths, 0, -1, 3)
			if err == nil && (!over[0] || ts[0] != nil) {
				err = fmt.Errorf("%d transfers, over %v; want none and over the limit of 3", len(ts[0]), over[0])
			}
			return err
		}},
	}
	for _, p := range paths {
		var read uint64
		pctx := ch.Context(ctx, ch.WithProgress(func(p *ch.Progress) { read += p.Rows }))
		if err := p.run(pctx); err != nil {
			t.Errorf("%s: %v", p.name, err)
			continue
		}
		t.Logf("%-32s read %7d rows (limit %d)", p.name, read, p.limit)
		if read == 0 || read > p.limit {
			t.Errorf("%s read %d rows of tables of %d; want 1..%d", p.name, read, pathRows, p.limit)
		}
	}
}
