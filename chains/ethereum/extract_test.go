package ethereum

import (
	"bytes"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/fundtrace/fundtrace/chains"
)

// word writes n as a 32-byte ABI word.
func word(n int64) []byte { return common.LeftPadBytes(big.NewInt(n).Bytes(), 32) }

func addrTopic(a common.Address) common.Hash { return common.BytesToHash(a.Bytes()) }

// TestTokenLogShapes reads hand-built logs of each token standard (the
// ABI encodings written out word by word) and logs that only look like
// them.
func TestTokenLogShapes(t *testing.T) {
	op, from, to := common.HexToAddress("0x01"), common.HexToAddress("0x02"), common.HexToAddress("0x03")
	tok := common.HexToAddress("0xdac17f958d2ee523a2206206994597c13d831ec7")
	cat := func(ws ...[]byte) []byte { return bytes.Join(ws, nil) }
	for _, c := range []struct {
		name string
		log  rpcLog
		want string
	}{
		{"erc20", rpcLog{Address: tok, Topics: []common.Hash{topicTransfer, addrTopic(from), addrTopic(to)}, Data: word(1500), LogIndex: 7},
			"erc20 log:7 0x2→0x3 1500 id=<nil>"},
		{"erc20 with nothing indexed", rpcLog{Address: tok, Topics: []common.Hash{topicTransfer}, Data: cat(word(2), word(3), word(99)), LogIndex: 1},
			"erc20 log:1 0x2→0x3 99 id=<nil>"},
		{"erc721", rpcLog{Address: tok, Topics: []common.Hash{topicTransfer, addrTopic(from), addrTopic(to), common.BigToHash(big.NewInt(4242))}, LogIndex: 2},
			"erc721 log:2 0x2→0x3 1 id=4242"},
		{"erc1155 single", rpcLog{Address: tok, Topics: []common.Hash{topicTransferSingle, addrTopic(op), addrTopic(from), addrTopic(to)}, Data: cat(word(5), word(70)), LogIndex: 3},
			"erc1155 log:3 0x2→0x3 70 id=5"},
		// ids [1, 2], values [10, 20]: offsets 0x40 and 0xa0, then each array's length and items.
		{"erc1155 batch", rpcLog{Address: tok, Topics: []common.Hash{topicTransferBatch, addrTopic(op), addrTopic(from), addrTopic(to)},
			Data: cat(word(0x40), word(0xa0), word(2), word(1), word(2), word(2), word(10), word(20)), LogIndex: 4},
			"erc1155 log:4.0 0x2→0x3 10 id=1|erc1155 log:4.1 0x2→0x3 20 id=2"},
		{"batch whose offset points outside the data", rpcLog{Address: tok, Topics: []common.Hash{topicTransferBatch, addrTopic(op), addrTopic(from), addrTopic(to)},
			Data: cat(word(0x40), word(0x1000), word(1), word(1)), LogIndex: 5}, ""},
		{"batch with a huge length", rpcLog{Address: tok, Topics: []common.Hash{topicTransferBatch, addrTopic(op), addrTopic(from), addrTopic(to)},
			Data: cat(word(0x40), word(0x60), word(1<<40), word(1)), LogIndex: 5}, ""},
		{"transfer with a word too many", rpcLog{Address: tok, Topics: []common.Hash{topicTransfer, addrTopic(from), addrTopic(to)}, Data: cat(word(1), word(2))}, ""},
		{"data not in words", rpcLog{Address: tok, Topics: []common.Hash{topicTransfer, addrTopic(from), addrTopic(to)}, Data: []byte{1, 2, 3}}, ""},
		{"another event", rpcLog{Address: tok, Topics: []common.Hash{common.HexToHash("0x1234"), addrTopic(from), addrTopic(to)}, Data: word(1)}, ""},
		{"no topics", rpcLog{Address: tok, Data: word(1)}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, tr := range tokenTransfers(chains.Transfer{}, &c.log, true) {
				short := func(a chains.Address) string { return "0x" + strings.TrimLeft(FormatAddress(a)[2:], "0") }
				if tr.Asset != Addr(tok) || !tr.Success {
					t.Errorf("asset %s success %v", FormatAddress(tr.Asset), tr.Success)
				}
				got = append(got, strings.Join([]string{tr.Kind.String(), tr.Position, short(tr.From) + "→" + short(tr.To), tr.Amount.String(), "id=" + fmtBig(tr.TokenID)}, " "))
			}
			if g := strings.Join(got, "|"); g != c.want {
				t.Fatalf("got %q, want %q", g, c.want)
			}
		})
	}
}

func fmtBig(v *big.Int) string {
	if v == nil {
		return "<nil>"
	}
	return v.String()
}

// TestParseAddressChecksum: mixed-case addresses must pass EIP-55 (the
// one parser: commands, case files, labels and sanctions lists use it).
func TestParseAddressChecksum(t *testing.T) {
	for s, ok := range map[string]bool{
		"0x7F367cC41522cE07553e823bf3be79A889DEbe1B":  true,  // valid checksum (OFAC-listed form)
		"0x7f367cc41522ce07553e823bf3be79a889debe1b":  true,  // all lower case: no checksum to check
		"0X7F367CC41522CE07553E823BF3BE79A889DEBE1B":  true,  // all upper case
		"0x7F367cC41522cE07553e823bf3be79A889DEbe1b":  false, // one letter's case changed
		"0x7f367cc41522ce07553e823bf3be79a889debe1":   false, // 39 digits
		"0x7f367cc41522ce07553e823bf3be79a889debe1b0": false, // 41 digits
		"7f367cc41522ce07553e823bf3be79a889debe1b":    false, // no 0x
	} {
		if _, err := ParseAddress(s); (err == nil) != ok {
			t.Errorf("%s: %v", s, err)
		}
	}
}
