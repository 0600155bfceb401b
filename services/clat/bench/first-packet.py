"""first-packet.py - run inside a CLAT bench namespace: sends one UDP datagram to DEST:9 every 2 ms
(errors ignored: there is no IPv4 route until the translator is up) and reads the far end (PEER) of the
veth pair the PREF64 is routed to with an AF_PACKET socket; prints "ready" once it runs and
"translated" when the first IPv6 UDP packet to an address inside PREFIX96 (the translated datagram)
arrives there, then exits. Anything else the kernel sends on the link (MLD reports) is not counted.

  first-packet.py DEST PEER PREFIX96        e.g. 192.0.2.1 out1 2001:db8:64::
"""
import socket
import sys
import time

ETH_P_IPV6 = 0x86DD


def main():
    dest, peer, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
    want = socket.inet_pton(socket.AF_INET6, prefix)[:12]
    capture = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IPV6))
    capture.bind((peer, 0))
    capture.setblocking(False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    print("ready", flush=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            sock.sendto(b"xlat64 first packet", (dest, 9))
        except OSError:
            pass
        while True:
            try:
                frame = capture.recv(2048)
            except BlockingIOError:
                break
            ip = frame[14:]
            if len(ip) >= 40 and ip[6] == 17 and ip[24:36] == want:
                print("translated", flush=True)
                return 0
        time.sleep(0.002)
    print("timeout", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
