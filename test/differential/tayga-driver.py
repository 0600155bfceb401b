#!/usr/bin/python3
"""tayga-driver.py - feeds packets to TAYGA through its TUN device and records what TAYGA writes back.

Runs inside the test's namespace. Each input (records: u16 length, bytes) is written to the TUN with
an AF_PACKET socket, followed by a marker (an ICMPv6 echo request TAYGA always translates, its index
in the identifier and sequence); TAYGA handles packets in order, so everything it writes before the
marker's translation belongs to that input. A window of inputs is kept in flight. Output: for each
input, u16 count then records (u16 length, bytes). Standard library only.
"""
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 3
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
MARK_SRC = socket.inet_pton(socket.AF_INET6, "2001:db8:64::c633:64fe")
MARK_DST = socket.inet_pton(socket.AF_INET6, "2001:db8:64::cb00:71fe")
MARK_SRC4 = socket.inet_aton("198.51.100.254")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xFFFF) + (t >> 16)
    return (~t) & 0xFFFF


def marker(i):
    body = struct.pack("!BBHHH", 128, 0, 0, i & 0xFFFF, (i >> 16) & 0xFFFF) + b"mark"
    ph = MARK_SRC + MARK_DST + struct.pack("!I3xB", len(body), 58)
    c = csum(ph + body)
    body = body[:2] + struct.pack("!H", c) + body[4:]
    return struct.pack("!IHBB", 0x60000000, len(body), 58, 64) + MARK_SRC + MARK_DST + body


def marker_index(p):
    """The index of a translated marker (ICMPv4 echo request from 198.51.100.254), else -1."""
    if len(p) >= 28 and p[0] >> 4 == 4 and p[9] == 1 and p[12:16] == MARK_SRC4:
        ihl = (p[0] & 15) * 4
        if p[ihl] == 8 and p[ihl + 8 : ihl + 12] == b"mark":
            ident, seq = struct.unpack_from("!HH", p, ihl + 4)
            return ident | (seq << 16)
    return -1


def main():
    dev, infile, outfile = sys.argv[1], sys.argv[2], sys.argv[3]
    window = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    data = open(infile, "rb").read()
    inputs = []
    at = 0
    while at < len(data):
        (n,) = struct.unpack_from("!H", data, at)
        inputs.append(data[at + 2 : at + 2 + n])
        at += 2 + n
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((dev, 0))
    results = [None] * len(inputs)
    current = []
    done = 0
    sent = 0
    lost = 0
    last_progress = time.time()
    while done < len(inputs):
        while sent < len(inputs) and sent - done < window:
            p = inputs[sent]
            proto = ETH_P_IPV6 if p and p[0] >> 4 == 6 else ETH_P_IP
            try:
                s.sendto(p, (dev, proto))
            except OSError:
                pass  # the kernel refused to send it (e.g. empty): TAYGA never saw it
            s.sendto(marker(sent), (dev, ETH_P_IPV6))
            sent += 1
        r, _, _ = select.select([s], [], [], 0.5)
        if not r:
            if time.time() - last_progress > 3:
                # The marker was lost: give the oldest input up and move on.
                results[done] = None
                lost += 1
                done += 1
                current = []
                last_progress = time.time()
            continue
        p, addr = s.recvfrom(65535)
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        m = marker_index(p)
        if m < 0:
            current.append(p)
            continue
        if m < done:
            continue
        while done < m:  # markers of earlier inputs were lost
            results[done] = None
            lost += 1
            done += 1
        results[done] = current
        current = []
        done += 1
        last_progress = time.time()
    with open(outfile, "wb") as f:
        for r in results:
            if r is None:
                f.write(struct.pack("!H", 0xFFFF))
                continue
            f.write(struct.pack("!H", len(r)))
            for p in r:
                f.write(struct.pack("!H", len(p)) + p)
    sys.stdout.write('{"inputs": %d, "lost": %d}\n' % (len(inputs), lost))


if __name__ == "__main__":
    main()
