// SPDX-License-Identifier: MIT
// Contracts the geth --dev integration test deploys (chains/ethereum/geth_test.go).
// Compiled with solc-js 0.8.28 (npm package solc), optimizer off, EVM version cancun:
// see build.sh. The bytecode and ABI in Fixtures.json are that compiler's output.
pragma solidity 0.8.28;

// TestToken is a minimal ERC-20.
contract TestToken {
    string public name = "Fundtrace Test Dollar";
    string public symbol = "FTD";
    uint8 public decimals = 6;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);

    constructor(uint256 supply) {
        totalSupply = supply;
        balanceOf[msg.sender] = supply;
        emit Transfer(address(0), msg.sender, supply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        require(balanceOf[msg.sender] >= value, "balance");
        balanceOf[msg.sender] -= value;
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }

    // fail accepts ETH and always reverts: a target for a failed inner call.
    function fail() external payable {
        revert("always fails");
    }
}

// Child is created by Forwarder with value and can destroy itself.
contract Child {
    constructor() payable {}

    function destroy(address payable to) external {
        selfdestruct(to);
    }
}

// Forwarder moves ETH by internal calls.
contract Forwarder {
    event Deployed(address child);

    // forward sends amounts[i] to tos[i]: one internal transfer each.
    function forward(address payable[] calldata tos, uint256[] calldata amounts) external payable {
        for (uint256 i = 0; i < tos.length; i++) {
            (bool ok, ) = tos[i].call{value: amounts[i]}("");
            require(ok, "send");
        }
    }

    // forwardAndRevert sends the value on, then reverts the whole transaction.
    function forwardAndRevert(address payable to) external payable {
        (bool ok, ) = to.call{value: msg.value}("");
        require(ok, "send");
        revert("reverted on purpose");
    }

    // forwardPartial sends half to good (succeeds) and half to bad.fail()
    // (reverts); the transaction itself succeeds and keeps bad's half.
    function forwardPartial(address payable good, address bad) external payable {
        uint256 half = msg.value / 2;
        (bool ok, ) = good.call{value: half}("");
        require(ok, "send");
        (bool ok2, ) = bad.call{value: half}(abi.encodeWithSignature("fail()"));
        require(!ok2, "bad should fail");
    }

    // deploy creates a Child endowed with the value sent.
    function deploy() external payable returns (address) {
        Child c = new Child{value: msg.value}();
        emit Deployed(address(c));
        return address(c);
    }
}
