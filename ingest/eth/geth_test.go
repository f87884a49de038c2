package eth

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/internal/gethtest"
)

// contract is one compiled contract of testdata/contracts/Fixtures.json.
type contract struct {
	ABI      abi.ABI
	Bytecode []byte
}

func loadContracts(t *testing.T) map[string]contract {
	t.Helper()
	b, err := os.ReadFile("testdata/contracts/Fixtures.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Contracts map[string]struct {
			ABI      json.RawMessage `json:"abi"`
			Bytecode string          `json:"bytecode"`
		} `json:"contracts"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	out := map[string]contract{}
	for name, c := range f.Contracts {
		a, err := abi.JSON(strings.NewReader(string(c.ABI)))
		if err != nil {
			t.Fatal(err)
		}
		code, err := hexutil.Decode(c.Bytecode)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = contract{ABI: a, Bytecode: code}
	}
	return out
}

func pack(t *testing.T, c contract, method string, args ...any) []byte {
	t.Helper()
	b, err := c.ABI.Pack(method, args...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGethDev runs a real geth --dev, deploys an ERC-20 and a forwarder
// compiled from testdata/contracts, makes the transfers a scam flow is
// made of (plain ETH, tokens, ETH forwarded by internal calls, a reverted
// transaction, a reverted inner call, a contract created by a contract
// with value, and a SELFDESTRUCT), indexes the chain and checks every
// transfer against what the test sent.
func TestGethDev(t *testing.T) {
	node := gethtest.Start(t)
	cs := loadContracts(t)
	ctx := context.Background()
	wei := func(n int64) *big.Int { return big.NewInt(n) }
	a := common.HexToAddress("0x00000000000000000000000000000000000a11ce")
	b := common.HexToAddress("0x0000000000000000000000000000000000000b0b")

	// The ERC-20, minting 1,000,000 units to the developer account.
	ctor, err := cs["TestToken"].ABI.Pack("", big.NewInt(1_000_000))
	if err != nil {
		t.Fatal(err)
	}
	r := node.Send(t, nil, nil, append(append([]byte(nil), cs["TestToken"].Bytecode...), ctor...))
	if r.Status != 1 || r.ContractAddress == nil {
		t.Fatalf("token deploy: %+v", r)
	}
	token := *r.ContractAddress
	r = node.Send(t, nil, nil, cs["Forwarder"].Bytecode)
	if r.Status != 1 || r.ContractAddress == nil {
		t.Fatalf("forwarder deploy: %+v", r)
	}
	fwd := *r.ContractAddress

	plain := node.Send(t, &a, wei(1e18), nil)
	tokTx := node.Send(t, &token, nil, pack(t, cs["TestToken"], "transfer", b, big.NewInt(1500)))
	forward := node.Send(t, &fwd, wei(3000), pack(t, cs["Forwarder"], "forward", []common.Address{a, b}, []*big.Int{wei(1000), wei(2000)}))
	reverted := node.Send(t, &fwd, wei(5000), pack(t, cs["Forwarder"], "forwardAndRevert", a))
	partial := node.Send(t, &fwd, wei(10000), pack(t, cs["Forwarder"], "forwardPartial", a, token))
	deploy := node.Send(t, &fwd, wei(7000), pack(t, cs["Forwarder"], "deploy"))
	for name, rc := range map[string]gethtest.Receipt{"plain": plain, "token": tokTx, "forward": forward, "partial": partial, "deploy": deploy} {
		if rc.Status != 1 {
			t.Fatalf("%s transaction failed on the node", name)
		}
	}
	if reverted.Status != 0 {
		t.Fatal("forwardAndRevert did not revert on the node")
	}
	// The child's address: the Deployed event of the deploy transaction.
	var logs []struct {
		Data hexutil.Bytes `json:"data"`
	}
	if err := node.RPC.CallContext(ctx, &logs, "eth_getLogs", map[string]any{"fromBlock": hexutil.Uint64(deploy.BlockNumber), "toBlock": hexutil.Uint64(deploy.BlockNumber), "address": fwd}); err != nil || len(logs) != 1 {
		t.Fatalf("Deployed log: %v %d", err, len(logs))
	}
	child := common.BytesToAddress(logs[0].Data)
	destroy := node.Send(t, &child, nil, pack(t, cs["Child"], "destroy", a))
	if destroy.Status != 1 {
		t.Fatal("destroy failed on the node")
	}

	// Index everything, to the destroy transaction's block: a dev node
	// may seal empty blocks after it while the test runs.
	st := openStore(t)
	res, err := Index(ctx, st, dialTest(t, node.URL, ethereum.ClientOptions{}), IndexConfig{Confirmations: 0, BatchBlocks: 3, To: int64(destroy.BlockNumber)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Traces != ethereum.TraceGeth || res.Network != "dev" || res.To != int64(destroy.BlockNumber) {
		t.Fatalf("result %+v: want geth traces, network dev, up to block %d", res, destroy.BlockNumber)
	}

	type want struct {
		kind     chains.TransferKind
		from, to common.Address
		amount   int64
		asset    common.Address
		success  bool
	}
	check := func(name string, txHash common.Hash, wantTx bool, ws []want) {
		t.Helper()
		tx, ts, err := st.AccountTx(ctx, chains.Ethereum, chains.Hash(txHash))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if tx.Success != wantTx {
			t.Errorf("%s: success %v, want %v", name, tx.Success, wantTx)
		}
		if tx.Fee == nil || tx.Fee.Sign() <= 0 || tx.GasUsed == 0 {
			t.Errorf("%s: fee %v for %d gas: every transaction pays gas", name, tx.Fee, tx.GasUsed)
		}
		var got, exp []string
		fees := new(big.Int)
		defer func() {
			if fees.Cmp(tx.Fee) != 0 {
				t.Errorf("%s: fee transfers add up to %s, the receipt says %s", name, fees, tx.Fee)
			}
		}()
		for _, tr := range ts {
			if tr.Kind == chains.TransferFee {
				if tr.From != tx.From || !tr.Success || (tr.Position != "fee" && tr.Position != "fee:burnt") {
					t.Errorf("%s: fee transfer %+v, want paid by %s", name, tr, ethereum.FormatAddress(tx.From))
				}
				fees.Add(fees, tr.Amount)
				continue
			}
			got = append(got, fmt.Sprintf("%s %s→%s %s asset=%s ok=%v", tr.Kind, ethereum.FormatAddress(tr.From), ethereum.FormatAddress(tr.To), tr.Amount, ethereum.FormatAddress(tr.Asset), tr.Success))
		}
		for _, w := range ws {
			asset := ""
			if w.asset != (common.Address{}) {
				asset = ethereum.FormatAddress(ethereum.Addr(w.asset))
			}
			to := ethereum.FormatAddress(ethereum.Addr(w.to))
			exp = append(exp, fmt.Sprintf("%s %s→%s %d asset=%s ok=%v", w.kind, ethereum.FormatAddress(ethereum.Addr(w.from)), to, w.amount, asset, w.success))
		}
		if strings.Join(got, "\n") != strings.Join(exp, "\n") {
			t.Errorf("%s transfers:\n got %s\nwant %s", name, strings.Join(got, "\n     "), strings.Join(exp, "\n     "))
		}
	}
	dev := node.Dev
	check("plain", plain.TxHash, true, []want{{chains.TransferNative, dev, a, 1e18, common.Address{}, true}})
	check("token", tokTx.TxHash, true, []want{{chains.TransferERC20, dev, b, 1500, token, true}})
	check("forward", forward.TxHash, true, []want{
		{chains.TransferNative, dev, fwd, 3000, common.Address{}, true},
		{chains.TransferInternal, fwd, a, 1000, common.Address{}, true},
		{chains.TransferInternal, fwd, b, 2000, common.Address{}, true},
	})
	check("reverted", reverted.TxHash, false, []want{
		{chains.TransferNative, dev, fwd, 5000, common.Address{}, false},
		{chains.TransferInternal, fwd, a, 5000, common.Address{}, false},
	})
	check("partial", partial.TxHash, true, []want{
		{chains.TransferNative, dev, fwd, 10000, common.Address{}, true},
		{chains.TransferInternal, fwd, a, 5000, common.Address{}, true},
		{chains.TransferInternal, fwd, token, 5000, common.Address{}, false},
	})
	check("deploy", deploy.TxHash, true, []want{
		{chains.TransferNative, dev, fwd, 7000, common.Address{}, true},
		{chains.TransferCreate, fwd, child, 7000, common.Address{}, true},
	})
	check("destroy", destroy.TxHash, true, []want{{chains.TransferDestruct, child, a, 7000, common.Address{}, true}})

	// The token's metadata, read from the contract.
	tok, err := st.Token(ctx, chains.Ethereum, ethereum.Addr(token))
	if err != nil || tok.Symbol != "FTD" || tok.Name != "Fundtrace Test Dollar" || tok.Decimals != 6 || !tok.HasDecimals {
		t.Fatalf("token metadata %+v, %v", tok, err)
	}
	// Address history: a received the plain payment, two forwarded
	// payments (one of them in a reverted transaction, kept as failed) and
	// the destroyed child's balance.
	hist, err := st.Transfers(ctx, chains.Ethereum, ethereum.Addr(a), 0)
	if err != nil {
		t.Fatal(err)
	}
	var okSum, failed int64
	for _, tr := range hist {
		if tr.To != ethereum.Addr(a) {
			t.Errorf("transfer %+v in a's history is not to a", tr)
		}
		if tr.Success {
			okSum += tr.Amount.Int64()
		} else {
			failed++
		}
	}
	if okSum != 1e18+1000+5000+7000 || failed != 1 {
		t.Fatalf("a received %d wei in successful transfers and %d failed ones; want %d and 1", okSum, failed, int64(1e18+1000+5000+7000))
	}
	// The developer account's history accounts for its whole balance:
	// what the node says it held at genesis, plus what it received, less
	// what it sent and paid in fees, is what the node says it holds now.
	var genesis, now hexutil.Big
	if err := node.RPC.CallContext(ctx, &genesis, "eth_getBalance", node.Dev, "0x0"); err != nil {
		t.Fatal(err)
	}
	if err := node.RPC.CallContext(ctx, &now, "eth_getBalance", node.Dev, hexutil.Uint64(destroy.BlockNumber)); err != nil {
		t.Fatal(err)
	}
	devHist, _, err := st.TransfersOf(ctx, chains.Ethereum, []chains.Address{ethereum.Addr(node.Dev)}, 0, -1, 0)
	if err != nil {
		t.Fatal(err)
	}
	bal := new(big.Int).Set(genesis.ToInt())
	for _, tr := range devHist[0] {
		if !tr.Success || tr.Asset != "" {
			continue
		}
		if tr.To == ethereum.Addr(node.Dev) {
			bal.Add(bal, tr.Amount)
		}
		if tr.From == ethereum.Addr(node.Dev) {
			bal.Sub(bal, tr.Amount)
		}
	}
	if bal.Cmp(now.ToInt()) != 0 {
		t.Fatalf("developer balance from its history %s, node says %s", bal, now.ToInt())
	}
	// Creations are recorded: both deploys from the developer account.
	for _, rc := range []gethtest.Receipt{r} {
		tx, ts, err := st.AccountTx(ctx, chains.Ethereum, chains.Hash(rc.TxHash))
		if err != nil || tx.Created != ethereum.Addr(fwd) || len(ts) < 2 || ts[len(ts)-1].Kind != chains.TransferCreate || ts[len(ts)-1].To != ethereum.Addr(fwd) {
			t.Fatalf("forwarder creation: %+v %+v %v", tx, ts, err)
		}
	}
}
