#!/bin/sh
# Rebuilds Fixtures.json from Fixtures.sol with solc-js 0.8.28 (npm install solc@0.8.28).
# Usage: SOLC_DIR=/path/with/node_modules sh build.sh
set -e
cd "$(dirname "$0")"
node - <<'JS'
const path = require('path');
const solc = require(path.join(process.env.SOLC_DIR || '.', 'node_modules', 'solc'));
const fs = require('fs');
const input = {
  language: 'Solidity',
  sources: { 'Fixtures.sol': { content: fs.readFileSync('Fixtures.sol', 'utf8') } },
  settings: { optimizer: { enabled: false }, evmVersion: 'cancun',
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of out.errors || []) { if (e.severity === 'error') { console.error(e.formattedMessage); process.exit(1); } }
const res = { compiler: 'solc-js ' + solc.version(), contracts: {} };
for (const [name, c] of Object.entries(out.contracts['Fixtures.sol'])) {
  res.contracts[name] = { abi: c.abi, bytecode: '0x' + c.evm.bytecode.object };
}
fs.writeFileSync('Fixtures.json', JSON.stringify(res, null, 1) + '\n');
console.log('wrote Fixtures.json with', res.compiler);
JS
