#!/usr/bin/env python3
"""Kernel sockets against a cluster of our stacks (packages/stack/src/cluster/cluster-kernel.test.ts).

  cluster_clients.py clients <ip> <port> <count> <bytes>
      open <count> connections at once, send each its own <bytes> bytes, read the echo, close;
      print one JSON line {"ok": n, "failed": [errors], "ports": [local ports of the good ones]}
  cluster_clients.py echo <ip> <port> <count>
      print "ready", accept <count> connections, echo each until EOF, print "done"
"""
import hashlib
import json
import socket
import sys
import threading

from kernel_peer import echo  # the same echo server the single-stack tests use


def data_for(index, length):
    """Bytes of connection <index>: SHA-256 blocks of "<index>:<k>", so no two connections send the same."""
    blocks = [hashlib.sha256(f"{index}:{k}".encode()).digest() for k in range((length + 31) // 32)]
    return b"".join(blocks)[:length]


def clients(ip, port, count, length):
    results = [None] * count
    start = threading.Barrier(count)

    def run(index):
        message = data_for(index, length)
        try:
            with socket.create_connection((ip, port), timeout=60) as conn:
                local_port = conn.getsockname()[1]
                start.wait()  # all connected before any data: all concurrent
                conn.sendall(message)
                conn.shutdown(socket.SHUT_WR)
                chunks = []
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    chunks.append(data)
            got = b"".join(chunks)
            results[index] = ("ok", local_port) if got == message else ("bad", f"{len(got)} bytes back of {len(message)}")
        except Exception as error:  # reported, not raised: the test prints them
            start.abort()
            results[index] = ("bad", repr(error))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ok = [r[1] for r in results if r[0] == "ok"]
    failed = [r[1] for r in results if r[0] != "ok"]
    print(json.dumps({"ok": len(ok), "failed": failed, "ports": ok}), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "clients":
        clients(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif mode == "echo":
        echo(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(f"unknown mode {mode}")
