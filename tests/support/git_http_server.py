#!/usr/bin/env python3
"""Smart-HTTP git server for envparity's tests (Python 3 standard library only).

Serves `git http-backend` as CGI for every repository under --root on 127.0.0.1, and requires HTTP basic
auth with exactly --user / --token: anything else gets 401 with `WWW-Authenticate: Basic realm="git"`.
Binds a free port (or --port) and prints it on the first line of stdout, so the caller never races for a port.
"""

import argparse
import base64
import hmac
import http.server
import os
import subprocess
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, help="directory holding the repositories")
    parser.add_argument("--user", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--backend", default="/usr/lib/git-core/git-http-backend")
    args = parser.parse_args()

    expected = "Basic " + base64.b64encode(f"{args.user}:{args.token}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so a response needs no chunking.
        protocol_version = "HTTP/1.0"

        def log_message(self, fmt, *a):  # quiet: the test output is for the tests
            pass

        def do_GET(self):
            self.serve()

        def do_POST(self):
            self.serve()

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        # trailers until the empty line
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return body
                    body += self.rfile.read(size)
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def serve(self):
            body = self.read_body()
            got = self.headers.get("Authorization", "")
            if not hmac.compare_digest(got.encode(), expected.encode()):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Type", "text/plain")
                message = b"authentication required\n"
                self.send_header("Content-Length", str(len(message)))
                self.end_headers()
                self.wfile.write(message)
                return
            path, _, query = self.path.partition("?")
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": args.root,
                "GIT_HTTP_EXPORT_ALL": "1",
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": "/dev/null",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": args.user,
                "REMOTE_ADDR": self.client_address[0],
                "SERVER_PROTOCOL": "HTTP/1.0",
                "GATEWAY_INTERFACE": "CGI/1.1",
            }
            for name in ("Content-Encoding", "Git-Protocol"):
                if name in self.headers:
                    env["HTTP_" + name.upper().replace("-", "_")] = self.headers[name]
            proc = subprocess.run([args.backend], input=body, env=env, capture_output=True)
            head, sep, out = proc.stdout.partition(b"\r\n\r\n")
            if not sep:
                head, sep, out = proc.stdout.partition(b"\n\n")
            status = 200
            headers = []
            for line in head.decode("latin-1").splitlines():
                if not line.strip():
                    continue
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name.lower() != "content-length":
                    headers.append((name.strip(), value.strip()))
            if proc.returncode != 0 and not proc.stdout:
                status = 500
                out = proc.stderr
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
