package cluster

import (
	"github.com/fundtrace/fundtrace/store/clickhouse"
	"github.com/fundtrace/fundtrace/store/embedded"
)

var _ StreamStore = (*embedded.Store)(nil)
var _ TxStreamer = (*embedded.Store)(nil)

var _ StreamStore = (*clickhouse.Store)(nil)
var _ TxStreamer = (*clickhouse.Store)(nil)
