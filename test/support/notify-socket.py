# A stand-in for systemd's notify socket: prints each datagram on one line ("|" for newlines).
import os, socket, sys
path = sys.argv[1]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
print("listening", flush=True)
while True:
    data = sock.recv(65536)
    print(data.decode("utf-8", "replace").replace("\n", "|"), flush=True)
