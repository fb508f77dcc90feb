"""moto's server with one request at a time, started by scripts/services.sh.

moto's own `moto_server` serves each connection on a thread and its backends take no lock, so two
concurrent conditional writes (a DynamoDB `attribute_not_exists` put, an S3 `If-None-Match: *`
put) can both succeed: the real services make them atomic, moto does not. Tests of "exactly one
winner" then fail now and then for moto's sake, not ours. This wrapper keeps moto's threaded
server (keep-alive connections stay cheap) but runs the application under one lock, the way the
real services order conflicting writes. moto is one Python process under the GIL, so the lock
costs next to no throughput.

SQS ReceiveMessage stays outside the lock: moto implements its long poll (WaitTimeSeconds) by
sleeping in the request, and holding the lock through it would stall every other request,
including the SendMessage the poll waits for.

Every response carries `x-axia-moto: serialized`, so services.sh can tell this server from a
plain `moto_server` left running on the port.
"""

import argparse
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

MARKER = ("x-axia-moto", "serialized")


class Serialized:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        def marked(status, headers, exc_info=None):
            headers.append(MARKER)
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.endswith(".ReceiveMessage"):
            return self.app(environ, marked)
        with self.lock:
            body = self.app(environ, marked)
            try:
                # The whole body inside the lock: a lazy iterable could still touch the backend.
                return [b"".join(body)]
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, Serialized(app), threaded=True)


if __name__ == "__main__":
    main()
