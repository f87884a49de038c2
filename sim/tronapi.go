package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
)

// NewTronHandler serves a simulated TRON chain over the java-tron HTTP
// API paths the indexer reads, rendered as java-tron renders them
// (addresses as 41… hex): /wallet/getnowblock, /wallet/getblockbynum,
// /wallet/gettransactioninfobyblocknum and /wallet/triggerconstantcontract
// (the USDT contract's decimals, symbol and name) and
// /wallet/getassetissuebyid (the TRC-10 token's issue). Requests are POSTs with
// a JSON body ({"num": N}), or GETs with the same as query parameters.
func NewTronHandler(w *TronWorld) http.Handler {
	mux := http.NewServeMux()
	num := func(r *http.Request) (int64, bool) {
		if v := r.URL.Query().Get("num"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil
		}
		var body struct {
			Num *int64 `json:"num"`
		}
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if json.Unmarshal(b, &body) != nil || body.Num == nil {
			return 0, false
		}
		return *body.Num, true
	}
	reply := func(rw http.ResponseWriter, v any) {
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(v)
	}
	fail := func(rw http.ResponseWriter, msg string) {
		// java-tron answers errors with HTTP 200 and an Error field.
		reply(rw, map[string]string{"Error": msg})
	}
	mux.HandleFunc("/wallet/getnowblock", func(rw http.ResponseWriter, r *http.Request) {
		reply(rw, renderTronBlock(w.Blocks[len(w.Blocks)-1]))
	})
	mux.HandleFunc("/wallet/getblockbynum", func(rw http.ResponseWriter, r *http.Request) {
		n, ok := num(r)
		if !ok {
			fail(rw, "class org.tron.core.services.http.JsonFormat$ParseException : num")
			return
		}
		if n < 0 || n >= int64(len(w.Blocks)) {
			reply(rw, struct{}{})
			return
		}
		reply(rw, renderTronBlock(w.Blocks[n]))
	})
	mux.HandleFunc("/wallet/gettransactioninfobyblocknum", func(rw http.ResponseWriter, r *http.Request) {
		n, ok := num(r)
		if !ok {
			fail(rw, "class org.tron.core.services.http.JsonFormat$ParseException : num")
			return
		}
		if n < 0 || n >= int64(len(w.Blocks)) || len(w.Blocks[n].Txs) == 0 {
			reply(rw, []any{})
			return
		}
		b := w.Blocks[n]
		out := make([]map[string]any, len(b.Txs))
		for i, t := range b.Txs {
			out[i] = renderTronInfo(b, t)
		}
		reply(rw, out)
	})
	mux.HandleFunc("/wallet/getassetissuebyid", func(rw http.ResponseWriter, r *http.Request) {
		var body struct {
			Value string `json:"value"`
		}
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		_ = json.Unmarshal(b, &body)
		if body.Value != strconv.Itoa(TRC10ID) {
			reply(rw, struct{}{})
			return
		}
		reply(rw, map[string]any{"id": body.Value, "owner_address": hex41(w.Blocks[0].Witness), "name": hex.EncodeToString([]byte(TRC10Name)),
			"abbr": hex.EncodeToString([]byte(TRC10Symbol)), "total_supply": int64(1_000_000_000_000), "precision": TRC10Decimals})
	})
	mux.HandleFunc("/wallet/triggerconstantcontract", func(rw http.ResponseWriter, r *http.Request) {
		var body struct {
			Contract string `json:"contract_address"`
			Selector string `json:"function_selector"`
		}
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		_ = json.Unmarshal(b, &body)
		var res []byte
		if body.Contract == "41"+hex.EncodeToString(w.USDT[:]) {
			switch body.Selector {
			case "decimals()":
				res = common.LeftPadBytes([]byte{6}, 32)
			case "symbol()":
				res = abiString("USDT")
			case "name()":
				res = abiString("Tether USD")
			}
		}
		if res == nil {
			reply(rw, map[string]any{"result": map[string]any{"code": "CONTRACT_EXE_ERROR", "message": "REVERT opcode executed"}})
			return
		}
		reply(rw, map[string]any{"result": map[string]any{"result": true}, "constant_result": []string{hex.EncodeToString(res)}})
	})
	return mux
}

func abiString(s string) []byte {
	b := common.LeftPadBytes([]byte{32}, 32)
	b = append(b, common.LeftPadBytes([]byte{byte(len(s))}, 32)...)
	return append(b, common.RightPadBytes([]byte(s), 32)...)
}

func hex41(a common.Address) string { return "41" + hex.EncodeToString(a[:]) }

func renderTronBlock(b *TronBlock) map[string]any {
	var leaves [][32]byte
	txs := make([]map[string]any, 0, len(b.Txs))
	for _, t := range b.Txs {
		leaves = append(leaves, sha256.Sum256(tronFullTx(t)))
		txs = append(txs, map[string]any{
			"ret":          []map[string]string{{"contractRet": t.Result}},
			"signature":    []string{hex.EncodeToString(tronSignature(t.ID))},
			"txID":         hex.EncodeToString(t.ID[:]),
			"raw_data":     map[string]any{"contract": []map[string]any{{"type": tronTypeNames[t.Type]}}},
			"raw_data_hex": hex.EncodeToString(t.Raw),
		})
	}
	root := tronMerkle(leaves)
	raw := map[string]any{"txTrieRoot": hex.EncodeToString(root[:]), "witness_address": hex41(b.Witness),
		"parentHash": hex.EncodeToString(b.Parent[:]), "version": 30, "timestamp": b.Time}
	if b.Number > 0 {
		raw["number"] = b.Number
	}
	out := map[string]any{"blockID": hex.EncodeToString(b.ID[:]),
		"block_header": map[string]any{"raw_data": raw, "witness_signature": hex.EncodeToString(tronSignature(b.ID))}}
	if len(txs) > 0 {
		out["transactions"] = txs
	}
	return out
}

var topicTransfer = common.HexToHash("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")

func renderTronInfo(b *TronBlock, t *TronTx) map[string]any {
	info := map[string]any{"id": hex.EncodeToString(t.ID[:]), "blockNumber": b.Number, "blockTimeStamp": b.Time, "contractResult": []string{""}}
	netFee := min(t.Fee, t.Net*1000)
	receipt := map[string]any{"net_usage": t.Net}
	if t.Fee > 0 {
		info["fee"] = t.Fee
		receipt["net_fee"] = netFee
		if t.Fee > netFee {
			receipt["energy_fee"] = t.Fee - netFee
		}
	}
	if t.Type == tronTrigger || t.Type == tronCreate {
		receipt["energy_usage_total"] = t.Energy
		receipt["result"] = t.Result
		switch {
		case t.Created != nil:
			info["contract_address"] = hex41(*t.Created)
		default:
			info["contract_address"] = hex41(t.To)
		}
	}
	info["receipt"] = receipt
	if !t.Success {
		info["result"] = "FAILED"
		info["resMessage"] = hex.EncodeToString([]byte("REVERT opcode executed"))
	}
	if t.Withdrawn > 0 {
		info["withdraw_amount"] = t.Withdrawn
	}
	var logs []map[string]any
	for _, l := range t.Logs {
		from, to := common.LeftPadBytes(l.From[:], 32), common.LeftPadBytes(l.To[:], 32)
		logs = append(logs, map[string]any{"address": hex.EncodeToString(l.Token[:]),
			"topics": []string{hex.EncodeToString(topicTransfer[:]), hex.EncodeToString(from), hex.EncodeToString(to)},
			"data":   hex.EncodeToString(common.LeftPadBytes(big.NewInt(l.Amount).Bytes(), 32))})
	}
	if logs != nil {
		info["log"] = logs
	}
	var internal []map[string]any
	for i, c := range t.Internal {
		h := sha256.Sum256(append(t.ID[:], byte(i)))
		internal = append(internal, map[string]any{"hash": hex.EncodeToString(h[:]), "caller_address": hex41(c.From),
			"transferTo_address": hex41(c.To), "callValueInfo": []map[string]any{{"callValue": c.Value}},
			"note": hex.EncodeToString([]byte("call"))})
	}
	if internal != nil {
		info["internal_transactions"] = internal
	}
	return info
}
