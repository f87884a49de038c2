package ethereum

import (
	"encoding/json"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/shareddata"
)

// TestWithdrawalRewardsCountedOnce: Erigon's trace_block for mainnet
// block 17,073,191 asked with IncludeWithdrawals lists the block's beacon
// withdrawals as reward traces of type withdrawal. The block itself
// carries the same withdrawals (in Gwei); each is one transfer, not two.
// The expected total is the sum of the trace's own withdrawal values.
func TestWithdrawalRewardsCountedOnce(t *testing.T) {
	b, err := os.ReadFile(shareddata.Path(t, "ethereum", "erigon-rpc-tests", "mainnet", "trace_block", "test_28.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec []struct {
		Response struct {
			Result []parityTrace `json:"result"`
		} `json:"response"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	traces, err := parityTraces(rec[0].Response.Result)
	if err != nil {
		t.Fatal(err)
	}
	var rewards []Trace
	want := new(big.Int)
	var ws []rpcWithdrawal
	for _, tr := range traces {
		if tr.Type != "reward" {
			continue
		}
		rewards = append(rewards, tr)
		if tr.RewardType == "withdrawal" {
			want.Add(want, tr.Value)
			gwei := new(big.Int).Div(tr.Value, big.NewInt(1e9))
			ws = append(ws, rpcWithdrawal{Index: hexutil.Uint64(len(ws)), Address: tr.To, Amount: hexutil.Big(*gwei)})
		}
	}
	if len(ws) == 0 {
		t.Fatal("no withdrawal rewards in the recorded answer")
	}
	num, ts := hexutil.Big(*big.NewInt(17073191)), hexutil.Uint64(1681338455)
	h, parent := common.HexToHash("0xd0d133fcedc050040fb52c48ae5ac1749846cd2b32478bcbe8be67000269336f"), common.Hash{1}
	bundle := &Bundle{Block: rpcBlock{Number: &num, Hash: &h, ParentHash: &parent, Timestamp: &ts, Withdrawals: ws}, Traces: rewards, Traced: true}
	bd, err := Extract(bundle)
	if err != nil {
		t.Fatal(err)
	}
	got := new(big.Int)
	n := 0
	for _, tr := range bd.Transfers {
		switch tr.Kind {
		case chains.TransferWithdrawal:
			got.Add(got, tr.Amount)
			n++
		case chains.TransferReward:
			t.Fatalf("a withdrawal read again as a reward: %+v", tr)
		}
	}
	if n != len(ws) || got.Cmp(want) != 0 {
		t.Fatalf("%d withdrawals of %s wei; the trace lists %d of %s", n, got, len(ws), want)
	}
}

// TestCallFrameWithoutValue: an older geth's callTracer wrote SELFDESTRUCT
// frames without to or value. Such a frame is reported with its
// transaction (Bundle.Incomplete) rather than read as a transfer of zero
// and dropped without a word; the frames beside it are read as usual.
func TestCallFrameWithoutValue(t *testing.T) {
	const tree = `{"type":"CALL","from":"0x2ac8ffa449827c507deea7072edf19edb6c4b1ba","to":"0xad95a4aa3383b3df742e9f84e139d08e3a265268","value":"0x0",
		"calls":[{"type":"SELFDESTRUCT","from":"0xad95a4aa3383b3df742e9f84e139d08e3a265268"},
		{"type":"CALL","from":"0xad95a4aa3383b3df742e9f84e139d08e3a265268","to":"0x2ac8ffa449827c507deea7072edf19edb6c4b1ba","value":"0x10"}]}`
	var root callFrame
	if err := json.Unmarshal([]byte(tree), &root); err != nil {
		t.Fatal(err)
	}
	txh := common.HexToHash("0xf57414989193e5e5ce57bd041a267868b02955a7c7e68401ab8510c3695d25c3")
	traces := flattenCallFrames(0, txh, &root)
	if len(traces) != 3 || traces[1].Incomplete == "" || traces[2].Incomplete != "" || traces[0].Incomplete != "" {
		t.Fatalf("traces %+v", traces)
	}
	from, to := common.HexToAddress("0x2ac8ffa449827c507deea7072edf19edb6c4b1ba"), common.HexToAddress("0xad95a4aa3383b3df742e9f84e139d08e3a265268")
	num, ts, gas := hexutil.Big(*big.NewInt(5)), hexutil.Uint64(1700000000), hexutil.Uint64(21000)
	h, parent := common.Hash{9}, common.Hash{8}
	zero := hexutil.Big(*new(big.Int))
	status := hexutil.Uint64(1)
	bundle := &Bundle{Block: rpcBlock{Number: &num, Hash: &h, ParentHash: &parent, Timestamp: &ts,
		Transactions: []rpcTx{{Hash: &txh, From: &from, To: &to, Value: &zero, GasPrice: &zero}}},
		Receipts: []rpcReceipt{{TxHash: &txh, GasUsed: &gas, Status: &status}}, Traces: traces, Traced: true}
	bd, err := Extract(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if len(bundle.Incomplete) != 1 || !strings.Contains(bundle.Incomplete[0], txh.Hex()) || !strings.Contains(bundle.Incomplete[0], "SELFDESTRUCT") {
		t.Fatalf("incomplete %q", bundle.Incomplete)
	}
	internal := 0
	for _, tr := range bd.Transfers {
		if tr.Kind == chains.TransferInternal && tr.Amount.Cmp(big.NewInt(16)) == 0 {
			internal++
		}
	}
	if internal != 1 {
		t.Fatalf("the sibling call was not read: %+v", bd.Transfers)
	}
}
