package cluster

import (
	"github.com/fundtrace/fundtrace/store/clickhouse"
	"github.com/fundtrace/fundtrace/store/embedded"
)

var _ IndexedStore = (*embedded.Store)(nil)

var _ StreamStore = (*clickhouse.Store)(nil)
