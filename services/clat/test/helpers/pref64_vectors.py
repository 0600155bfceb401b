"""pref64_vectors.py - RFC 8781 test vectors made by scapy (PyPI), independently of xlat64's encoder.

  build            prints JSON: router advertisements (hex, from the ICMPv6 type on) with PREF64
                   options for every prefix length code and a range of lifetimes, and what they carry
  decode HEX       prints JSON: scapy's reading of a PREF64 option we encoded (lifetime, plc, prefix)
"""
import json
import sys

from scapy.layers.inet6 import ICMPv6ND_RA, ICMPv6NDOptPREF64, ICMPv6NDOptPrefixInfo, ICMPv6NDOptMTU

PLC_LENGTH = {0: 96, 1: 64, 2: 56, 3: 48, 4: 40, 5: 32}


def ra(*options, routerlifetime=1800):
    packet = ICMPv6ND_RA(routerlifetime=routerlifetime)
    for option in options:
        packet = packet / option
    # Checksum 0: without an IPv6 header scapy cannot compute it, and the kernel checks it for us.
    return bytes(packet.__class__(bytes(packet)))


def build():
    cases = []
    prefixes = {
        0: "64:ff9b::",
        1: "2001:db8:64:6400::",
        2: "2001:db8:6400::",
        3: "2001:db8:6400::",
        4: "2001:db8::",
        5: "2001:db8::",
    }
    for plc, prefix in prefixes.items():
        for scaled in (0, 1, 225, 8191):
            option = ICMPv6NDOptPREF64(prefix=prefix, plc=plc, scaledlifetime=scaled)
            cases.append({
                "name": f"plc{plc}-lifetime{scaled}",
                "ra": ra(ICMPv6NDOptMTU(mtu=1500), option, ICMPv6NDOptPrefixInfo(prefix="2001:db8:1::")).hex(),
                "expect": [{"prefix": f"{prefix}/{PLC_LENGTH[plc]}", "lifetimeSeconds": scaled * 8}],
            })
    two = ra(
        ICMPv6NDOptPREF64(prefix="64:ff9b::", plc=0, scaledlifetime=75),
        ICMPv6NDOptPREF64(prefix="2001:db8:64::", plc=0, scaledlifetime=150),
    )
    cases.append({
        "name": "two-options",
        "ra": two.hex(),
        "expect": [
            {"prefix": "64:ff9b::/96", "lifetimeSeconds": 600},
            {"prefix": "2001:db8:64::/96", "lifetimeSeconds": 1200},
        ],
    })
    print(json.dumps(cases))


def decode(hex_option):
    option = ICMPv6NDOptPREF64(bytes.fromhex(hex_option))
    print(json.dumps({
        "type": option.type,
        "len": option.len,
        "scaledlifetime": option.scaledlifetime,
        "plc": option.plc,
        "prefix": option.prefix,
    }))


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build()
    elif sys.argv[1] == "decode":
        decode(sys.argv[2])
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
