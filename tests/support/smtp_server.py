"""A test SMTP server on 127.0.0.1 (aiosmtpd), for the digest tests.

Stores every message it accepts as a file in a Maildir with an X-RcptTo header naming its envelope
recipients (like aiosmtpd.handlers.Mailbox) and can:
  --tls-cert/--tls-key   offer STARTTLS with this certificate
  --auth USER:PASSWORD   require AUTH (PLAIN/LOGIN) with these credentials, only after STARTTLS
  --reject ADDR          answer 550 to RCPT TO:<ADDR>
  --defer ADDR           answer 450 (try again later) to RCPT TO:<ADDR>
  --drop-data            close the connection in the middle of DATA (after the message arrived)
Prints "ready PORT" on stdout once listening; runs until killed.
"""

import argparse
import mailbox
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, maildir, reject, defer, drop_data):
        self.box = mailbox.Maildir(maildir, create=True)
        self.reject = (reject or "").lower()
        self.defer = (defer or "").lower()
        self.drop_data = drop_data

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject and address.lower() == self.reject:
            return "550 5.1.1 <%s>: user unknown" % address
        if self.defer and address.lower() == self.defer:
            return "450 4.2.1 <%s>: mailbox busy, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.drop_data:
            session.transport.close()
            return "421 closing"
        rcpt = ("X-RcptTo: %s\r\n" % ", ".join(envelope.rcpt_tos)).encode()
        self.box.add(rcpt + envelope.original_content)
        return "250 Message accepted for delivery"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--maildir", required=True)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--auth")
    p.add_argument("--reject")
    p.add_argument("--defer")
    p.add_argument("--drop-data", action="store_true")
    a = p.parse_args()

    kwargs = {}
    if a.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        kwargs["tls_context"] = ctx
        kwargs["require_starttls"] = True
    if a.auth:
        user, password = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            return AuthResult(success=ok)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        kwargs["auth_require_tls"] = True

    handler = Handler(a.maildir, a.reject, a.defer, a.drop_data)
    controller = Controller(handler, hostname="127.0.0.1", port=a.port, **kwargs)
    controller.start()
    print("ready", a.port, flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
