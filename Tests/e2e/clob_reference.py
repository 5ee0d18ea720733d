"""What the official Polymarket client (py-clob-client-v2, installed from PyPI at test time) makes of orders: the
EIP-712 digest, the signature, the JSON body of POST /order as the client serializes it, and the L2 HMAC over it.
Reads a JSON list of cases on stdin, writes one JSON object per case on stdout. The test (ClobSigningTests) compares
each with Warden's, byte for byte. Only the client's own code computes here: its order builder (rounding, exchange
choice, signer), its EIP-712 encoding and eth-account signature, its JSON and HMAC helpers."""
import json
import sys
import time
from importlib.metadata import version

from py_clob_client_v2.clob_types import CreateOrderOptions, OrderArgsV2
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2, SignatureTypeV2
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from py_clob_client_v2.signer import Signer
from py_clob_client_v2.signing.eip712 import sign_clob_auth_message
from py_clob_client_v2.signing.hmac import build_hmac_signature
from eth_utils import keccak


def main():
    cases = json.load(sys.stdin)
    out = []
    for c in cases:
        # The client takes its salt and timestamp from the clock and a random number: fixed here per case.
        time.time_ns = lambda ts=c["timestamp"]: ts * 1_000_000
        defaults = list(ExchangeOrderBuilderV2.__init__.__defaults__)
        defaults[0] = lambda salt=c["salt"]: salt
        ExchangeOrderBuilderV2.__init__.__defaults__ = tuple(defaults)
        signer = Signer(c["key"], 137)
        builder = OrderBuilder(signer, SignatureTypeV2(c["signature_type"]), c.get("funder"))
        v3 = c["protocol"] == 3
        args = OrderArgsV2(token_id=None if v3 else c["token"], position_id=c["token"] if v3 else None,
                           price=float(c["price"]), size=float(c["size"]), side=c["side"],
                           expiration=c.get("expiration", 0), metadata=c["metadata"])
        order = builder.build_order(args, CreateOrderOptions(tick_size=c["tick"], neg_risk=c["neg_risk"]), version=c["protocol"])
        contract = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa" if v3 else (
            "0xe2222d279d744050d28e00520010520000310F59" if c["neg_risk"] else "0xE111180000d2663C0091e4f400237545B87B996B")
        exchange = ExchangeOrderBuilderV2(contract, 137, signer, domain_version=str(c["protocol"]))
        digest = exchange.build_order_hash(exchange.build_order_typed_data(order))
        body = json.dumps(order_to_json_v2(order, "<api key>", c["order_type"], c["post_only"]), separators=(",", ":"), ensure_ascii=False)
        out.append({
            "address": signer.address(),
            "digest": digest,
            "signature": order.signature,
            "body": body,
            "hmac": build_hmac_signature(c["secret"], c["l2_timestamp"], "POST", "/order", body),
            "l1": sign_clob_auth_message(signer, c["l2_timestamp"], c["nonce"]),
            "keccak": [keccak(bytes.fromhex(h)).hex() for h in c.get("keccak", [])],
        })
    json.dump({"client": "py-clob-client-v2 " + version("py-clob-client-v2"), "results": out}, sys.stdout)


main()
