#!/usr/bin/python3
"""labtool.py - small network tools the end-to-end suites (test/e2e) run inside the lab namespaces.

Standard library only (the lab runs /usr/bin/python3). Each subcommand prints one JSON document (or
JSON lines for the servers' logs) so the TypeScript tests can assert on it:

  udp-server PORT LOG         IPv4 UDP server: logs every datagram (peer, length, SHA-256, tag) and
                              answers "GOT <len> <sha256>", or, for "SEND <n>", a datagram of n bytes
                              of known content (pattern(n)).
  udp-send   DST PORT N       sends one N-byte datagram (pattern(N), first line = tag) and waits for
                              the server's "GOT" answer.
  udp-ask    DST PORT N       asks the server for an N-byte datagram and checks what arrives.
  udp-probe  DST PORT HOPS    sends a UDP datagram with the given hop limit / TTL and reports the
                              ICMP error the kernel matched to the socket (IP_RECVERR / IPV6_RECVERR).
  put-server PORT             HTTP server answering PUT with the SHA-256 and length of the body.
  send-frames IFACE MAC FILE  sends each packet of FILE (records: u16 length, bytes) as an Ethernet
                              frame to MAC on IFACE (AF_PACKET), paced; prints how many were sent.
  tcp-echo-server PORT        IPv4 TCP server: answers every line with "<peer address>:<peer port> <line>",
                              so a client sees the address and port the server sees.
  tcp-ticker DST PORT LOG     one long-lived TCP connection: "tick N" every --interval s, one JSON line
                              per answer ({"n", "reply"}) in LOG; on an error or a close, {"error"} and exit.
  udp-ticker DST PORT LOG     one UDP socket (unconnected: ICMP errors are not reported to it), "tick N"
                              every --interval s, one JSON line per answer in LOG; runs until killed.
  udp-from-many DST PORT SRC...  sends one UDP datagram from each source address (no answer awaited)
                              and counts the ICMPv6 errors that come back (raw socket) during
                              --listen seconds after the first send, by "type/code".
Options: --bind ADDR (source address), --tag TEXT, --tries N, --timeout S.
"""

import argparse
import hashlib
import http.server
import json
import socket
import struct
import sys
import threading
import time

IP_RECVERR = 11
IPV6_RECVERR = 25
MSG_ERRQUEUE = 0x2000


def pattern(n):
    unit = b"xlat64 e2e datagram 0123456789abcdefghijklmnopqrstuvwxyz\n"
    return (unit * (n // len(unit) + 1))[:n]


def family_of(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def udp_socket(dst, bind, timeout):
    sock = socket.socket(family_of(dst), socket.SOCK_DGRAM)
    if bind:
        sock.bind((bind, 0))
    sock.settimeout(timeout)
    return sock


def cmd_udp_server(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("0.0.0.0", args.port))
    with open(args.log, "a", buffering=1) as log:
        while True:
            data, peer = sock.recvfrom(65535)
            tag = data.split(b"\n", 1)[0][:80].decode("latin-1")
            digest = hashlib.sha256(data).hexdigest()
            log.write(json.dumps({"peer": peer[0], "port": peer[1], "length": len(data),
                                  "sha256": digest, "tag": tag}) + "\n")
            if data.startswith(b"SEND "):
                n = int(data.split()[1])
                sock.sendto(pattern(n), peer)
            else:
                sock.sendto(b"GOT %d %s" % (len(data), digest.encode()), peer)


def tagged(tag, n):
    body = pattern(n)
    head = (tag + "\n").encode()
    return (head + body)[:n] if n >= len(head) else body


def cmd_udp_send(args):
    payload = tagged(args.tag, args.size)
    want = "GOT %d %s" % (len(payload), hashlib.sha256(payload).hexdigest())
    sock = udp_socket(args.dst, args.bind, args.timeout)
    result = {"sent": len(payload), "reply": None, "ok": False, "local": None}
    for _ in range(args.tries):
        sock.sendto(payload, (args.dst, args.port))
        result["local"] = list(sock.getsockname()[:2])
        try:
            data, _peer = sock.recvfrom(65535)
        except socket.timeout:
            continue
        result["reply"] = data.decode("latin-1")
        result["ok"] = result["reply"] == want
        break
    print(json.dumps(result))


def cmd_udp_ask(args):
    want = pattern(args.size)
    sock = udp_socket(args.dst, args.bind, args.timeout)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    result = {"asked": args.size, "received": None, "ok": False}
    for _ in range(args.tries):
        sock.sendto(b"SEND %d\n%s" % (args.size, args.tag.encode()), (args.dst, args.port))
        try:
            data, _peer = sock.recvfrom(65535)
        except socket.timeout:
            continue
        result["received"] = len(data)
        result["ok"] = data == want
        break
    print(json.dumps(result))


def cmd_udp_probe(args):
    six = family_of(args.dst) == socket.AF_INET6
    sock = udp_socket(args.dst, args.bind, args.timeout)
    if six:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, args.hops)
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, args.hops)
        sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    sock.connect((args.dst, args.port))
    result = {"error": None}
    for _ in range(args.tries):
        sock.send(tagged(args.tag, args.size))
        deadline = time.time() + args.timeout
        while time.time() < deadline:
            try:
                _data, ancdata, _flags, _addr = sock.recvmsg(2048, 512, MSG_ERRQUEUE | socket.MSG_DONTWAIT)
            except BlockingIOError:
                time.sleep(0.02)
                continue
            except OSError:
                time.sleep(0.02)
                continue
            for _level, _type, data in ancdata:
                errno_, origin, icmp_type, icmp_code, _pad, info, _data32 = struct.unpack_from("=IBBBBII", data)
                offender_raw = data[16:]
                offender = None
                fam = struct.unpack_from("=H", offender_raw)[0] if len(offender_raw) >= 2 else 0
                if fam == socket.AF_INET6:
                    offender = socket.inet_ntop(socket.AF_INET6, offender_raw[8:24])
                elif fam == socket.AF_INET:
                    offender = socket.inet_ntop(socket.AF_INET, offender_raw[4:8])
                result["error"] = {"errno": errno_, "origin": origin, "type": icmp_type, "code": icmp_code,
                                   "info": info, "offender": offender}
            if result["error"]:
                print(json.dumps(result))
                return
        # no error queued yet: try again
    print(json.dumps(result))


class PutHandler(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        length = int(self.headers.get("Content-Length", "0"))
        digest = hashlib.sha256()
        left = length
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
        body = ("%d %s\n" % (length - left, digest.hexdigest())).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        sys.stderr.write("%s %s\n" % (self.client_address[0], format % args))


def cmd_put_server(args):
    server = http.server.ThreadingHTTPServer(("0.0.0.0", args.port), PutHandler)
    server.serve_forever()


def cmd_send_frames(args):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((args.iface, 0))
    dst = bytes.fromhex(args.mac.replace(":", ""))
    with open("/sys/class/net/%s/address" % args.iface) as f:
        src = bytes.fromhex(f.read().strip().replace(":", ""))
    with open(args.file, "rb") as f:
        blob = f.read()
    sent = 0
    at = 0
    while at + 2 <= len(blob):
        (n,) = struct.unpack_from(">H", blob, at)
        packet = blob[at + 2 : at + 2 + n]
        at += 2 + n
        ethertype = b"\x86\xdd" if packet and packet[0] >> 4 == 6 else b"\x08\x00"
        sock.send(dst + src + ethertype + packet)
        sent += 1
        # Paced so the PLAT's TUN queue (500 packets) is not what drops the garbage.
        if sent % args.burst == 0:
            time.sleep(args.pause)
    print(json.dumps({"sent": sent}))


def cmd_tcp_echo_server(args):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", args.port))
    srv.listen(16)

    def serve(conn, peer):
        with conn:
            for line in conn.makefile("rb"):
                conn.sendall(b"%s:%d %s" % (peer[0].encode(), peer[1], line))

    while True:
        conn, peer = srv.accept()
        threading.Thread(target=serve, args=(conn, peer), daemon=True).start()


def cmd_tcp_ticker(args):
    with open(args.log, "a", buffering=1) as log:
        try:
            source = (args.bind, 0) if args.bind else None
            sock = socket.create_connection((args.dst, args.port), timeout=args.timeout, source_address=source)
            replies = sock.makefile("rb")
            n = 0
            while True:
                n += 1
                sock.sendall(b"tick %d\n" % n)
                line = replies.readline()
                if not line:
                    log.write(json.dumps({"error": "closed by the peer"}) + "\n")
                    return
                log.write(json.dumps({"n": n, "reply": line.decode().strip(), "t": time.time()}) + "\n")
                time.sleep(args.interval)
        except OSError as error:
            log.write(json.dumps({"error": str(error)}) + "\n")


def cmd_udp_ticker(args):
    sock = udp_socket(args.dst, args.bind, args.interval)
    with open(args.log, "a", buffering=1) as log:
        n = 0
        while True:
            n += 1
            sock.sendto(b"tick %d\n" % n, (args.dst, args.port))
            deadline = time.time() + args.interval
            while time.time() < deadline:
                try:
                    sock.settimeout(max(0.001, deadline - time.time()))
                    data, _peer = sock.recvfrom(65535)
                except (socket.timeout, OSError):
                    continue
                log.write(json.dumps({"n": n, "reply": data.decode("latin-1"), "t": time.time()}) + "\n")
def cmd_udp_from_many(args):
    icmp = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    icmp.setblocking(False)
    started = time.time()
    sent = 0
    for src in args.sources:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.bind((src, args.sport))
        sock.sendto(tagged(src, 64), (args.dst, args.port))
        sock.close()
        sent += 1
        if args.pause:
            time.sleep(args.pause)
    finished = time.time()
    errors = {}
    while time.time() < started + args.listen:
        try:
            data = icmp.recv(2048)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        if data and data[0] < 128:
            key = "%d/%d" % (data[0], data[1])
            errors[key] = errors.get(key, 0) + 1
    print(json.dumps({"sent": sent, "sendSeconds": finished - started, "errors": errors}))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("udp-server")
    p.add_argument("port", type=int)
    p.add_argument("log")
    for name in ("udp-send", "udp-ask", "udp-probe"):
        p = sub.add_parser(name)
        p.add_argument("dst")
        p.add_argument("port", type=int)
        p.add_argument("size" if name != "udp-probe" else "hops", type=int)
        p.add_argument("--bind")
        p.add_argument("--tag", default="e2e")
        p.add_argument("--tries", type=int, default=3)
        p.add_argument("--timeout", type=float, default=2.0)
        if name == "udp-probe":
            p.add_argument("--size", type=int, default=64)
    p = sub.add_parser("put-server")
    p.add_argument("port", type=int)
    p = sub.add_parser("send-frames")
    p.add_argument("iface")
    p.add_argument("mac")
    p.add_argument("file")
    p.add_argument("--burst", type=int, default=64)
    p.add_argument("--pause", type=float, default=0.002)
    p = sub.add_parser("tcp-echo-server")
    p.add_argument("port", type=int)
    for name in ("tcp-ticker", "udp-ticker"):
        p = sub.add_parser(name)
        p.add_argument("dst")
        p.add_argument("port", type=int)
        p.add_argument("log")
        p.add_argument("--bind")
        p.add_argument("--interval", type=float, default=0.2)
        p.add_argument("--timeout", type=float, default=60.0)
    p = sub.add_parser("udp-from-many")
    p.add_argument("dst")
    p.add_argument("port", type=int)
    p.add_argument("sources", nargs="+")
    p.add_argument("--sport", type=int, default=40000)
    p.add_argument("--pause", type=float, default=0.0)
    p.add_argument("--listen", type=float, default=3.0)
    args = parser.parse_args()
    {
        "udp-server": cmd_udp_server,
        "udp-send": cmd_udp_send,
        "udp-ask": cmd_udp_ask,
        "udp-probe": cmd_udp_probe,
        "put-server": cmd_put_server,
        "send-frames": cmd_send_frames,
        "tcp-echo-server": cmd_tcp_echo_server,
        "tcp-ticker": cmd_tcp_ticker,
        "udp-ticker": cmd_udp_ticker,
        "udp-from-many": cmd_udp_from_many,
    }[args.command](args)


if __name__ == "__main__":
    main()
