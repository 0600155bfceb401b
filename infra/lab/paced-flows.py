#!/usr/bin/env python3
"""paced-flows.py - many UDP flows at a steady rate, for soak runs (test/bench/plat-soak.bench.ts).

Sends 64-byte IPv6/UDP packets (78-byte Ethernet frames, built once) through an AF_PACKET socket on
IFNAME: SUBSCRIBERS sources SRC_PREFIX:XX00::HOST (one /56 each) x PORTS source ports 5000, 5001, ...
to DST6 port DST_PORT, round robin over the flows, at RATE packets per second in small bursts (every
millisecond, the packets due by then), for SECONDS. trafgen's --rate sends bursts of hundreds of
frames back to back, which a receiver's 500-packet queue (a TUN device's txqueuelen) cannot take; its
--gap pacing stops near 9,000 pps on these machines. Prints the number of frames sent.

Usage (root, inside the sender's namespace):
  paced-flows.py IFNAME DST_MAC SECONDS RATE DST6 SRC_PREFIX HOST SUBSCRIBERS PORTS DST_PORT
"""
import errno
import ipaddress
import signal
import socket
import struct
import sys
import time


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(dst_mac: bytes, src_mac: bytes, src6: bytes, dst6: bytes, sport: int, dport: int) -> bytes:
    payload = b"\x78" * 16
    length = 8 + len(payload)
    pseudo = src6 + dst6 + struct.pack("!I3xB", length, 17)
    udp = struct.pack("!HHHH", sport, dport, length, 0) + payload
    csum = checksum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", csum) + udp[8:]
    ip6 = struct.pack("!IHBB", 6 << 28, length, 17, 64) + src6 + dst6
    return dst_mac + src_mac + b"\x86\xdd" + ip6 + udp


def fail(message: str) -> None:
    print(f"paced-flows.py: {message}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    if len(sys.argv) != 11:
        fail("usage: IFNAME DST_MAC SECONDS RATE DST6 SRC_PREFIX HOST SUBSCRIBERS PORTS DST_PORT")
    ifname, dst_mac_text, seconds, rate, dst6_text, prefix, host, subscribers, ports, dport = sys.argv[1:]
    try:
        dst_mac = bytes.fromhex(dst_mac_text.replace(":", ""))
        assert len(dst_mac) == 6
    except (ValueError, AssertionError):
        fail(f"DST_MAC '{dst_mac_text}' is not a MAC address")
    seconds_f, rate_i = float(seconds), int(rate)
    subscribers_i, ports_i, dport_i = int(subscribers), int(ports), int(dport)
    if not 1 <= subscribers_i <= 256:
        fail("SUBSCRIBERS must be 1..256")
    if not 1 <= ports_i <= 60000:
        fail("PORTS must be 1..60000")
    if rate_i < 1:
        fail("RATE must be a positive number of packets per second")
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((ifname, 0))
    src_mac = sock.getsockname()[4]
    dst6 = ipaddress.IPv6Address(dst6_text).packed
    frames = [
        frame(dst_mac, src_mac, ipaddress.IPv6Address(f"{prefix}:{s:02x}00::{host}").packed, dst6, 5000 + p, dport_i)
        for s in range(subscribers_i)
        for p in range(ports_i)
    ]
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sent = 0
    n = len(frames)
    start = time.monotonic()
    while not stop:
        elapsed = time.monotonic() - start
        if elapsed >= seconds_f:
            break
        due = int(elapsed * rate_i)
        while sent < due:
            try:
                sock.send(frames[sent % n])
            except OSError as error:  # ENOBUFS: the interface's queue is full; the next tick tries again
                if error.errno != errno.ENOBUFS:
                    raise
                break
            sent += 1
        time.sleep(0.001)
    print(sent)


if __name__ == "__main__":
    main()
