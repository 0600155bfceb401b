"""ra_sender.py - sends IPv6 router advertisements with RFC 8781 PREF64 options, encoded by scapy (not
by xlat64), from a router namespace of the CLAT end-to-end suite.

  ra_sender.py IFACE SRC [--prefix P/LEN ...] [--lifetime S] [--interval S] [--count N] [--bad-plc]
               [--hlim N] [--answer-rs]

Each --prefix adds one PREF64 option (in order). --lifetime is the option's lifetime in seconds
(scaled by 8, rounded up; 0 withdraws). --count 0 (default) sends until killed. --bad-plc adds an
option with prefix length code 7, which RFC 8781 leaves undefined (a receiver must ignore it).
--hlim sets the IPv6 hop limit (RFC 4861 wants 255; anything else must be ignored). --answer-rs sends
nothing unsolicited: it prints "listening" once its sniffer runs, then answers each router
solicitation heard on IFACE with one RA (and prints "answered RS from <source>").
"""
import argparse
import math
import sys
import time

from scapy.layers.inet6 import IPv6, ICMPv6ND_RA, ICMPv6ND_RS, ICMPv6NDOptPREF64
from scapy.layers.l2 import Ether
from scapy.sendrecv import AsyncSniffer, sendp

PLC = {96: 0, 64: 1, 56: 2, 48: 3, 40: 4, 32: 5}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("iface")
    parser.add_argument("src")
    parser.add_argument("--prefix", action="append", default=[])
    parser.add_argument("--lifetime", type=int, default=600)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--bad-plc", action="store_true")
    parser.add_argument("--hlim", type=int, default=255)
    parser.add_argument("--answer-rs", action="store_true")
    args = parser.parse_args()

    # Layer 2 on IFACE: a layer-3 send picks the interface by route, and ff02::1 is on every link.
    packet = Ether(dst="33:33:00:00:00:01") / IPv6(src=args.src, dst="ff02::1", hlim=args.hlim) / ICMPv6ND_RA(routerlifetime=0)
    scaled = min(8191, math.ceil(args.lifetime / 8))
    for text in args.prefix:
        address, length = text.split("/")
        packet = packet / ICMPv6NDOptPREF64(prefix=address, plc=PLC[int(length)], scaledlifetime=scaled)
    if args.bad_plc:
        packet = packet / ICMPv6NDOptPREF64(prefix="2001:db8:bad::", plc=7, scaledlifetime=scaled)
    if args.answer_rs:
        def answer(rs):
            sendp(packet, iface=args.iface, verbose=False)
            print(f"answered RS from {rs[IPv6].src}", flush=True)

        sniffer = AsyncSniffer(
            iface=args.iface,
            store=False,
            lfilter=lambda p: ICMPv6ND_RS in p,
            prn=answer,
            started_callback=lambda: print("listening", flush=True),
        )
        sniffer.start()
        sniffer.join()
        return 0
    sent = 0
    while args.count == 0 or sent < args.count:
        sendp(packet, iface=args.iface, verbose=False)
        sent += 1
        print(f"sent RA {sent}", flush=True)
        if args.count == 0 or sent < args.count:
            time.sleep(args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
