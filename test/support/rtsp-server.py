#!/usr/bin/python3
"""RTSP test server: serves H.264 MP4 files as they are (no re-encoding), one mount per file.

Usage: rtsp-server.py --port 8554 --mount left=/tmp/left.mp4 [--mount right=/tmp/right.mp4 ...]
Each client gets its own media (not shared), so every client starts from the file's beginning.
Prints "ready <port>" once listening; exits on SIGTERM/SIGINT or when its stdin closes (the
test process that started it is gone). Run it with /usr/bin/python3 (Debian's python3-gi).
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--mount", action="append", required=True, help="NAME=PATH of an H.264 MP4")
    return parser.parse_args()


def quoted(path):
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    args = parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for spec in args.mount:
        name, _, path = spec.partition("=")
        if not name or not path:
            sys.exit(f"bad --mount {spec!r}: expected NAME=PATH")
        factory = GstRtspServer.RTSPMediaFactory()
        # config-interval=-1 repeats SPS/PPS with every keyframe so a client can start decoding at once.
        factory.set_launch(
            f"( filesrc location={quoted(path)} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
        )
        factory.set_shared(False)
        mounts.add_factory("/" + name, factory)

    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on {args.address}:{args.port}")
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, loop.quit)
    GLib.io_add_watch(sys.stdin.fileno(), GLib.PRIORITY_DEFAULT, GLib.IOCondition.HUP | GLib.IOCondition.IN, lambda *_: loop.quit())
    print(f"ready {args.port}", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
