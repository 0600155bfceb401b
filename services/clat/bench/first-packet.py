"""first-packet.py - run inside a CLAT bench namespace: sends one UDP datagram to DEST:9 every 2 ms
(errors ignored: there is no IPv4 route until the translator is up) and watches the transmit counter
of the interface the translated IPv6 packets are routed to; prints "ready" once it runs and
"translated" when the first packet came out, then exits.

  first-packet.py DEST DEVICE
"""
import socket
import sys
import time


def main():
    dest, device = sys.argv[1], sys.argv[2]
    counter = f"/sys/class/net/{device}/statistics/tx_packets"
    with open(counter) as f:
        baseline = int(f.read())
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    print("ready", flush=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            sock.sendto(b"xlat64 first packet", (dest, 9))
        except OSError:
            pass
        with open(counter) as f:
            if int(f.read()) > baseline:
                print("translated", flush=True)
                return 0
        time.sleep(0.002)
    print("timeout", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
