package tron

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"

	"github.com/fundtrace/fundtrace/chains"
)

// TxInfo is a transaction's TransactionInfo as /wallet/gettransactioninfobyblocknum
// renders it: what running it cost and did.
type TxInfo struct {
	ID              string       `json:"id"`
	Fee             int64        `json:"fee"` // TRX (sun) taken from the sender: energy and bandwidth burnt, account creation, memo
	BlockNumber     int64        `json:"blockNumber"`
	BlockTimeStamp  int64        `json:"blockTimeStamp"` // ms
	ContractAddress string       `json:"contract_address"`
	Receipt         Receipt      `json:"receipt"`
	Log             []Log        `json:"log"`
	Result          string       `json:"result"` // FAILED, or left out
	ResMessage      string       `json:"resMessage"`
	Internal        []InternalTx `json:"internal_transactions"`
	WithdrawAmount  int64        `json:"withdraw_amount"`
}

// Receipt is ResourceReceipt: the energy and bandwidth a transaction used
// and the TRX burnt for what its sender's frozen resources did not cover.
type Receipt struct {
	EnergyUsage       int64  `json:"energy_usage"`
	EnergyFee         int64  `json:"energy_fee"`
	OriginEnergyUsage int64  `json:"origin_energy_usage"`
	EnergyUsageTotal  int64  `json:"energy_usage_total"`
	NetUsage          int64  `json:"net_usage"`
	NetFee            int64  `json:"net_fee"`
	Result            string `json:"result"`
}

// Log is an event a contract emitted: its 20-byte address and topics in
// hex (base58 address with visible=true).
type Log struct {
	Address string   `json:"address"`
	Topics  []string `json:"topics"`
	Data    string   `json:"data"`
}

// InternalTx is a call made inside a contract's execution.
type InternalTx struct {
	Hash          string `json:"hash"`
	Caller        string `json:"caller_address"`
	To            string `json:"transferTo_address"`
	CallValueInfo []struct {
		CallValue int64  `json:"callValue"`
		TokenID   string `json:"tokenId"`
	} `json:"callValueInfo"`
	Note     string `json:"note"` // hex of "call", "create", "suicide"
	Rejected bool   `json:"rejected"`
}

// ParseTxInfos reads one /wallet/gettransactioninfobyblocknum answer: a
// list, or {} for a block without transactions.
func ParseTxInfos(body []byte) ([]TxInfo, error) {
	if err := nodeError(body); err != nil {
		return nil, err
	}
	var infos []TxInfo
	if len(body) > 0 && body[0] == '{' {
		return nil, nil
	}
	if err := json.Unmarshal(body, &infos); err != nil {
		return nil, fmt.Errorf("transaction infos: %w", err)
	}
	return infos, nil
}

// USDT is Tether's TRC-20 contract on TRON mainnet.
var USDT = mustParse("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")

func mustParse(s string) chains.Address {
	a, err := ParseAddress(s)
	if err != nil {
		panic(err)
	}
	return a
}

// TokenAddress is the Asset of a TRC-10 token: its numeric id.
func TokenAddress(id int64) chains.Address {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	return chains.MakeAddress(chains.KindTokenID, b[:])
}

// TokenIDOf returns the TRC-10 id a KindTokenID address holds.
func TokenIDOf(a chains.Address) (int64, bool) {
	p := a.Payload()
	if a.Kind() != chains.KindTokenID || len(p) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(p)), true
}

// FormatAsset writes an asset as TRON users know it: "" for TRX, a TRC-20
// contract's T… address, a TRC-10 token's id.
func FormatAsset(a chains.Address) string {
	if a == "" {
		return ""
	}
	if id, ok := TokenIDOf(a); ok {
		return strconv.FormatInt(id, 10)
	}
	return Encode(a)
}

// fromHex reads an address as the HTTP API writes it: 41… hex (21
// bytes), bare 20-byte hex (logs), or Base58 (visible=true).
func fromHex(s string) (chains.Address, error) {
	if s == "" {
		return "", nil
	}
	if len(s) == 40 {
		s = "41" + s
	}
	return ParseAddress(s)
}

// addr21 reads a 21-byte protobuf address (0x41 first).
func addr21(b []byte) (chains.Address, error) {
	switch {
	case len(b) == 0:
		return "", nil
	case len(b) == 21 && b[0] == Version:
		return chains.MakeAddress(chains.KindAccount, b[1:]), nil
	}
	return "", fmt.Errorf("address %x is not 0x41 and 20 bytes", b)
}

// Word20 reads an ABI address word: the low 20 bytes. Many TRON wallets
// write 0x41 into byte 11 of the word, which is not part of the address.
func Word20(w []byte) chains.Address {
	return chains.MakeAddress(chains.KindAccount, w[len(w)-20:])
}

// TRC20Call is a TRC-20 transfer or transferFrom read from call data.
type TRC20Call struct {
	TransferFrom bool
	From         chains.Address // transferFrom's; "" for transfer (the caller)
	To           chains.Address
	Amount       *big.Int
}

// DecodeTRC20Call reads transfer(address,uint256) (a9059cbb) and
// transferFrom(address,address,uint256) (23b872dd) call data of exactly
// their arguments' length; ok false for anything else.
func DecodeTRC20Call(data []byte) (c TRC20Call, ok bool) {
	switch {
	case len(data) == 4+64 && hex.EncodeToString(data[:4]) == "a9059cbb":
		return TRC20Call{To: Word20(data[4:36]), Amount: new(big.Int).SetBytes(data[36:68])}, true
	case len(data) == 4+96 && hex.EncodeToString(data[:4]) == "23b872dd":
		return TRC20Call{TransferFrom: true, From: Word20(data[4:36]), To: Word20(data[36:68]), Amount: new(big.Int).SetBytes(data[68:100])}, true
	}
	return c, false
}

// topicTransfer is Transfer(address,address,uint256)'s topic 0.
const topicTransfer = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

// LogTransfer reads a TRC-20 (three topics, 32-byte data) or TRC-721
// (four topics, no data) Transfer event; ok false for any other log.
func LogTransfer(lg *Log) (tr chains.Transfer, ok bool, err error) {
	if len(lg.Topics) < 3 || lg.Topics[0] != topicTransfer {
		return tr, false, nil
	}
	words := make([][]byte, 0, 3)
	for _, t := range lg.Topics[1:] {
		w, err := hex.DecodeString(t)
		if err != nil || len(w) != 32 {
			return tr, false, fmt.Errorf("log topic %q is not 32 bytes of hex", t)
		}
		words = append(words, w)
	}
	data, err := hex.DecodeString(lg.Data)
	if err != nil {
		return tr, false, fmt.Errorf("log data is not hex")
	}
	for i := 0; i+32 <= len(data) && len(data)%32 == 0; i += 32 {
		words = append(words, data[i:i+32])
	}
	if len(words) != 3 || len(data)%32 != 0 {
		return tr, false, nil // not an ERC-20/721 Transfer's shape
	}
	if tr.Asset, err = fromHex(lg.Address); err != nil {
		return tr, false, fmt.Errorf("log address: %w", err)
	}
	tr.From, tr.To = Word20(words[0]), Word20(words[1])
	if len(lg.Topics) == 4 {
		tr.Kind, tr.Amount, tr.TokenID = chains.TransferERC721, big.NewInt(1), new(big.Int).SetBytes(words[2])
	} else {
		tr.Kind, tr.Amount = chains.TransferERC20, new(big.Int).SetBytes(words[2])
	}
	return tr, true, nil
}

// Extract turns a checked block (DecodeBlock's transactions) and its
// transactions' infos into the chain-neutral model: every transaction
// with its outcome and cost, and every movement of value in block order
// (per transaction: the TRX it burnt, its own TRX or TRC-10 value, the
// internal transactions' values, then its TRC-20 and TRC-721 Transfer
// events). A transaction that failed is kept, its transfers marked
// unsuccessful. Every transaction must have its info: without it a
// contract call's token movements are unknown, and a block is written
// whole or not at all.
func Extract(b *Block, txs []DecodedTx, infos []TxInfo) (chains.BlockData, error) {
	h := &b.Header.Raw
	var bd chains.BlockData
	where := func(format string, a ...any) error {
		return fmt.Errorf("tron block %d: %s", h.Number, fmt.Sprintf(format, a...))
	}
	id, err1 := chains.ParseHash(b.BlockID)
	prev, err2 := chains.ParseHash(h.ParentHash)
	root, _ := chains.ParseHash(h.TxTrieRoot)
	if err1 != nil || err2 != nil {
		return bd, where("blockID or parentHash is not a 32-byte hash")
	}
	t := h.Timestamp / 1000
	bd.Block = chains.Block{Chain: chains.Tron, Height: h.Number, Hash: id, PrevHash: prev, MerkleRoot: root, Time: t, TxCount: uint32(len(txs))}
	byID := make(map[string]*TxInfo, len(infos))
	for i := range infos {
		byID[infos[i].ID] = &infos[i]
	}
	logIndex := 0
	for i := range txs {
		d := &txs[i]
		txid := hex.EncodeToString(d.ID[:])
		info, ok := byID[txid]
		if !ok {
			return bd, where("no transaction info for transaction %d (%s): the node's gettransactioninfobyblocknum answer is incomplete", i, txid)
		}
		c := d.Contract()
		from, err := addr21(c.Owner)
		if err != nil {
			return bd, where("transaction %s: owner: %v", txid, err)
		}
		to, err := addr21(c.To)
		if err != nil {
			return bd, where("transaction %s: to: %v", txid, err)
		}
		success := d.Result.Succeeded() && info.Result != "FAILED" &&
			(info.Receipt.Result == "" || info.Receipt.Result == "SUCCESS" || info.Receipt.Result == "DEFAULT")
		tx := chains.AccountTx{Chain: chains.Tron, Hash: chains.Hash(d.ID), Height: h.Number, Position: uint32(i), Time: t,
			Type: uint8(c.Type), From: from, To: to, Value: big.NewInt(0), Gas: uint64(d.Raw.FeeLimit),
			GasUsed: uint64(info.Receipt.EnergyUsageTotal), GasPrice: new(big.Int), Fee: big.NewInt(info.Fee), Success: success}
		if c.Type == Transfer || c.Type == TriggerSmartContract || c.Type == CreateSmartContract {
			tx.Value.SetInt64(c.Amount)
		}
		if len(c.Data) >= 4 {
			tx.Input4 = append([]byte(nil), c.Data[:4]...)
		}
		if c.Type == CreateSmartContract {
			if tx.Created, err = fromHex(info.ContractAddress); err != nil {
				return bd, where("transaction %s: contract_address: %v", txid, err)
			}
			tx.To = ""
		}
		bd.AccountTxs = append(bd.AccountTxs, tx)

		base := chains.Transfer{Chain: chains.Tron, Height: h.Number, Time: t, TxHash: tx.Hash, TxIndex: uint32(i)}
		add := func(tr chains.Transfer) { bd.Transfers = append(bd.Transfers, tr) }
		// TRON burns what a transaction costs beyond its sender's frozen
		// resources; there is no tip to a block producer.
		if info.Fee > 0 {
			tr := base
			tr.Kind, tr.Position, tr.From, tr.Amount, tr.Success = chains.TransferFee, "fee:burnt", from, big.NewInt(info.Fee), true
			add(tr)
		}
		switch c.Type {
		case Transfer:
			tr := base
			tr.Kind, tr.From, tr.To, tr.Amount, tr.Success = chains.TransferNative, from, to, big.NewInt(c.Amount), success
			add(tr)
		case TransferAsset:
			tokenID, err := strconv.ParseInt(c.AssetName, 10, 64)
			if err != nil {
				return bd, where("transaction %s: TRC-10 asset_name %q is not a token id", txid, c.AssetName)
			}
			tr := base
			tr.Kind, tr.Asset, tr.From, tr.To, tr.Amount, tr.Success = chains.TransferTRC10, TokenAddress(tokenID), from, to, big.NewInt(c.Amount), success
			add(tr)
		case TriggerSmartContract, CreateSmartContract:
			dest := to
			kind := chains.TransferNative
			if c.Type == CreateSmartContract {
				dest, kind = tx.Created, chains.TransferCreate
			}
			if c.Amount > 0 || c.Type == CreateSmartContract {
				tr := base
				tr.Kind, tr.From, tr.To, tr.Amount, tr.Success = kind, from, dest, big.NewInt(c.Amount), success
				add(tr)
			}
			if c.TokenValue > 0 {
				tr := base
				tr.Position = "token"
				tr.Kind, tr.Asset, tr.From, tr.To, tr.Amount, tr.Success = chains.TransferTRC10, TokenAddress(c.TokenID), from, dest, big.NewInt(c.TokenValue), success
				add(tr)
			}
		case WithdrawBalance:
			// A witness's (block producer's or voter's) reward paid out.
			amt := info.WithdrawAmount
			if amt == 0 {
				amt = d.Result.WithdrawAmount
			}
			if amt > 0 {
				tr := base
				tr.Position = "withdraw"
				tr.Kind, tr.To, tr.Amount, tr.Success = chains.TransferReward, from, big.NewInt(amt), success
				add(tr)
			}
		}
		for j := range info.Internal {
			it := &info.Internal[j]
			caller, err := fromHex(it.Caller)
			if err != nil {
				return bd, where("transaction %s: internal transaction %d: caller: %v", txid, j, err)
			}
			dest, err := fromHex(it.To)
			if err != nil {
				return bd, where("transaction %s: internal transaction %d: to: %v", txid, j, err)
			}
			note, _ := hex.DecodeString(it.Note)
			for k, v := range it.CallValueInfo {
				if v.CallValue <= 0 {
					continue
				}
				tr := base
				tr.Position = "call:" + strconv.Itoa(j)
				if len(it.CallValueInfo) > 1 {
					tr.Position += "." + strconv.Itoa(k)
				}
				tr.From, tr.To, tr.Amount, tr.Success = caller, dest, big.NewInt(v.CallValue), success && !it.Rejected
				switch string(note) {
				case "create":
					tr.Kind = chains.TransferCreate
				case "suicide":
					tr.Kind = chains.TransferDestruct
				default:
					tr.Kind = chains.TransferInternal
				}
				if v.TokenID != "" && v.TokenID != "_" {
					id, err := strconv.ParseInt(v.TokenID, 10, 64)
					if err != nil {
						return bd, where("transaction %s: internal transaction %d: tokenId %q", txid, j, v.TokenID)
					}
					tr.Kind, tr.Asset = chains.TransferTRC10, TokenAddress(id)
				}
				add(tr)
			}
		}
		for j := range info.Log {
			tr, ok, err := LogTransfer(&info.Log[j])
			if err != nil {
				return bd, where("transaction %s: log %d: %v", txid, j, err)
			}
			if ok {
				tr.Chain, tr.Height, tr.Time, tr.TxHash, tr.TxIndex = base.Chain, base.Height, base.Time, base.TxHash, base.TxIndex
				tr.Position = "log:" + strconv.Itoa(logIndex)
				tr.Success = success
				add(tr)
			}
			logIndex++
		}
	}
	if len(infos) > len(txs) {
		return bd, where("%d transaction infos for %d transactions", len(infos), len(txs))
	}
	return bd, nil
}
