#!/usr/bin/env python3
"""The Linux kernel as a TCP peer for the interoperability tests: ordinary sockets only.

  kernel_peer.py sink <ip> <port>            accept one connection, read to EOF, print "<bytes> <sha256>"
  kernel_peer.py send <ip> <port> <bytes>    connect, send deterministic bytes, shut down, print "<bytes> <sha256>"
                                             (both print "tcpi_options <n>" first, the socket's TCP_INFO options)
  kernel_peer.py echo <ip> <port> <count>    accept <count> connections, echo each until EOF, print "done"
  kernel_peer.py wait <ip> <port>            accept one connection, read until it ends, print "eof" or "reset"
  kernel_peer.py clients <ip> <port> <count> <bytes>
                                             open <count> connections at once; each sends <bytes> of its own
                                             pattern, shuts down, reads the echo to EOF; print a JSON list of
                                             {"port": <local port>, "sha256": <of what it sent>, "echoed": <bool>}
"""
import hashlib
import json
import socket
import sys
import threading


def family(ip):
    """AF_INET6 for an IPv6 address (create_server defaults to AF_INET; create_connection picks by itself)."""
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def pattern(total, seed=0):
    block = bytes((i * 7 + 3 + seed) & 0xFF for i in range(65536))
    sent = 0
    while sent < total:
        n = min(len(block), total - sent)
        yield block[:n]
        sent += n


def print_options(conn):
    """The socket's tcpi_options (struct tcp_info byte 5: TCPI_OPT_TIMESTAMPS 1, SACK 2, WSCALE 4, ECN 8, ECN_SEEN 16)."""
    info = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    print("tcpi_options", info[5], flush=True)


def sink(ip, port):
    with socket.create_server((ip, port), family=family(ip)) as server:
        print("ready", flush=True)
        conn, _ = server.accept()
        print_options(conn)
        digest, total = hashlib.sha256(), 0
        with conn:
            while True:
                data = conn.recv(1 << 20)
                if not data:
                    break
                digest.update(data)
                total += len(data)
        print(total, digest.hexdigest(), flush=True)


def send(ip, port, total):
    digest = hashlib.sha256()
    with socket.create_connection((ip, port), timeout=60) as conn:
        print_options(conn)
        for chunk in pattern(total):
            digest.update(chunk)
            conn.sendall(chunk)
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):
            pass
    print(total, digest.hexdigest(), flush=True)


def echo(ip, port, count):
    with socket.create_server((ip, port), family=family(ip), backlog=count) as server:
        print("ready", flush=True)

        def serve(conn):
            with conn:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    conn.sendall(data)

        threads = []
        for _ in range(count):
            conn, _ = server.accept()
            thread = threading.Thread(target=serve, args=(conn,))
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
    print("done", flush=True)


def wait(ip, port):
    with socket.create_server((ip, port), family=family(ip)) as server:
        print("ready", flush=True)
        conn, _ = server.accept()
        with conn:
            try:
                while conn.recv(65536):
                    pass
                print("eof", flush=True)
            except ConnectionResetError:
                print("reset", flush=True)


def clients(ip, port, count, total):
    results = [None] * count

    def run(index):
        digest = hashlib.sha256()
        sent = bytearray()
        with socket.create_connection((ip, port), timeout=60) as conn:
            local_port = conn.getsockname()[1]
            received = bytearray()

            def read():
                while True:
                    data = conn.recv(1 << 20)
                    if not data:
                        break
                    received.extend(data)

            reader = threading.Thread(target=read)
            reader.start()
            for chunk in pattern(total, index):
                digest.update(chunk)
                sent.extend(chunk)
                conn.sendall(chunk)
            conn.shutdown(socket.SHUT_WR)
            reader.join()
        results[index] = {"port": local_port, "sha256": digest.hexdigest(), "echoed": bytes(received) == bytes(sent)}

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    mode, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "sink":
        sink(ip, port)
    elif mode == "send":
        send(ip, port, int(sys.argv[4]))
    elif mode == "echo":
        echo(ip, port, int(sys.argv[4]))
    elif mode == "wait":
        wait(ip, port)
    elif mode == "clients":
        clients(ip, port, int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit("unknown mode " + mode)
