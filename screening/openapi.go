package screening

import _ "embed"

// openAPI describes the service (GET /openapi.json).
//
//go:embed openapi.json
var openAPI []byte
