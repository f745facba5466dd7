#!/usr/bin/python3
"""The simulator's RTSP server: GStreamer's gst-rtsp-server, one mount per camera.

Each mount serves an MP4 (qtdemux ! h264parse ! rtph264pay: an MP4 carries the timing a raw .h264
file lacks), paced in real time, from its start for every client. Commands arrive as JSON lines on
stdin and are answered as JSON lines on stdout; the first line out is {"ready": true, "port": N}.

  {"id": 1, "op": "mount", "path": "/SN", "file": "/tmp/x.mp4", "user": "u", "password": "p"}
  {"id": 2, "op": "mode", "path": "/SN", "mode": "normal" | "refuse" | "stall"}
  {"id": 3, "op": "drop", "path": "/SN"}      closes the connections of that mount's clients

refuse answers 404 to DESCRIBE (as a camera whose RTSP is switched off); stall keeps the
connection but sends no more video; drop closes the TCP connections at once. Runs under Debian's
/usr/bin/python3, where the gi bindings (python3-gst-1.0, gir1.2-gst-rtsp-server-1.0) live.
"""
import argparse
import json
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


ANONYMOUS = "anonymous"


class Mount:
    def __init__(self, path, role):
        self.path = path
        self.role = role
        self.mode = "normal"
        self.clients = set()
        self.factory = None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--auth", choices=["basic", "digest"], default="digest")
    args = parser.parse_args()

    Gst.init(None)
    loop = GLib.MainLoop()
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    auth = GstRtspServer.RTSPAuth()
    auth.set_supported_methods(
        GstRtsp.RTSPAuthMethod.DIGEST if args.auth == "digest" else GstRtsp.RTSPAuthMethod.BASIC
    )
    # A client without (valid) credentials gets this token: its role decides per mount.
    anonymous = GstRtspServer.RTSPToken()
    anonymous.set_string("media.factory.role", ANONYMOUS)
    auth.set_default_token(anonymous)
    server.set_auth(auth)
    mounts = {}
    client_paths = {}

    def reply(message):
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    def on_request(client, ctx):
        path = ctx.uri.abspath if ctx.uri else None
        mount = mounts.get(path)
        if mount:
            mount.clients.add(client)
            client_paths[client] = path

    def on_closed(client):
        path = client_paths.pop(client, None)
        if path in mounts:
            mounts[path].clients.discard(client)

    def on_client(_server, client):
        client.connect("describe-request", on_request)
        client.connect("setup-request", on_request)
        client.connect("closed", on_closed)

    server.connect("client-connected", on_client)

    def media_configure(_factory, media, mount):
        payloader = media.get_element().get_by_name("pay0")

        def probe(_pad, _info):
            return Gst.PadProbeReturn.DROP if mount.mode == "stall" else Gst.PadProbeReturn.OK

        payloader.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)

    def mount_camera(command):
        path = command["path"]
        mount = mounts.get(path) or Mount(path, "camera" + str(len(mounts) + 1))
        mounts[path] = mount
        factory = GstRtspServer.RTSPMediaFactory()
        location = command["file"].replace("\\", "\\\\").replace('"', '\\"')
        factory.set_launch(
            f'( filesrc location="{location}" ! qtdemux ! h264parse config-interval=-1 '
            "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
        )
        factory.set_shared(False)
        factory.connect("media-configure", media_configure, mount)
        permissions = GstRtspServer.RTSPPermissions()
        if command.get("user"):
            token = GstRtspServer.RTSPToken()
            token.set_string("media.factory.role", mount.role)
            if args.auth == "digest":
                auth.add_digest(command["user"], command.get("password", ""), token)
            else:
                auth.add_basic(
                    GstRtspServer.RTSPAuth.make_basic(command["user"], command.get("password", "")), token
                )
            permissions.add_permission_for_role(mount.role, "media.factory.access", True)
            permissions.add_permission_for_role(mount.role, "media.factory.construct", True)
            # Seen but not playable without credentials: 401 with a challenge, as a camera answers.
            permissions.add_permission_for_role(ANONYMOUS, "media.factory.access", True)
            permissions.add_permission_for_role(ANONYMOUS, "media.factory.construct", False)
        else:
            permissions.add_permission_for_role(ANONYMOUS, "media.factory.access", True)
            permissions.add_permission_for_role(ANONYMOUS, "media.factory.construct", True)
        factory.set_permissions(permissions)
        mount.factory = factory
        if mount.mode != "refuse":
            server.get_mount_points().add_factory(path, factory)

    def set_mode(command):
        mount = mounts[command["path"]]
        mode = command["mode"]
        points = server.get_mount_points()
        if mode == "refuse" and mount.mode != "refuse":
            points.remove_factory(mount.path)
        elif mode != "refuse" and mount.mode == "refuse":
            points.add_factory(mount.path, mount.factory)
        mount.mode = mode

    def drop(command):
        mount = mounts[command["path"]]
        count = len(mount.clients)
        for client in list(mount.clients):
            client.close()
        return count

    def run(command):
        op = command.get("op")
        try:
            if op == "mount":
                mount_camera(command)
                result = {}
            elif op == "mode":
                set_mode(command)
                result = {}
            elif op == "drop":
                result = {"dropped": drop(command)}
            else:
                raise ValueError(f"unknown op {op!r}")
            reply({"id": command.get("id"), "ok": True, **result})
        except Exception as err:  # noqa: BLE001 - every failure is answered, never fatal
            reply({"id": command.get("id"), "ok": False, "error": f"{type(err).__name__}: {err}"})
        return False

    def read_commands():
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                command = json.loads(line)
            except ValueError:
                reply({"ok": False, "error": "not JSON"})
                continue
            GLib.idle_add(run, command)
        # The simulator went away (stdin closed): stop serving.
        GLib.idle_add(loop.quit)

    server.attach(None)
    reply({"ready": True, "port": server.get_bound_port()})
    threading.Thread(target=read_commands, daemon=True).start()
    loop.run()


if __name__ == "__main__":
    main()
