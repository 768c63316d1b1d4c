"""A FIX 4.4 acceptor for the drop-copy tests: a real QuickFIX session layer on 127.0.0.1.

Run as ``python fix_acceptor.py PORT STORE_DIR SENDER TARGET [PASSWORD]``; with a
PASSWORD, a Logon whose Password (554) differs is answered by a Logout. It prints one
line per session event to stdout (``LISTENING``, ``LOGON <MsgSeqNum of the peer's
Logon> <its Password>``, ``REFUSED``, ``LOGOUT``, ``HEARTBEAT``, ``RESEND <BeginSeqNo>
<EndSeqNo>``, ``SENT``, ``DROPPED``) and reads commands as JSON lines on stdin:

- ``{"send": {"17": "E1", ...}}`` an ExecutionReport with these tags (stored and sent, or
  only stored while the peer is away: it is then resent on the peer's ResendRequest);
- ``{"drop": true}`` drops the TCP connection without a Logout (a network failure);
- ``{"quit": true}`` stops.
"""

from __future__ import annotations

import json
import sys
import threading

import quickfix as fix

SETTINGS = """
[DEFAULT]
ConnectionType=acceptor
SocketAcceptHost=127.0.0.1
SocketAcceptPort={port}
FileStorePath={store}
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=N
ResetOnLogon=N
ResetOnLogout=N
ResetOnDisconnect=N

[SESSION]
BeginString=FIX.4.4
SenderCompID={sender}
TargetCompID={target}
HeartBtInt=30
"""


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def field(message: fix.Message, tag: int, header: bool = False) -> str | None:
    source = message.getHeader() if header else message
    return source.getField(tag) if source.isSetField(tag) else None


class Counterparty(fix.Application):  # type: ignore[misc]
    def __init__(self, password: str | None) -> None:
        super().__init__()
        self.session_id: fix.SessionID | None = None
        self.password = password

    def onCreate(self, session_id: fix.SessionID) -> None:
        self.session_id = session_id

    def onLogon(self, session_id: fix.SessionID) -> None:
        pass

    def onLogout(self, session_id: fix.SessionID) -> None:
        say("LOGOUT")

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        kind = field(message, 35, header=True)
        if kind == "A":
            given = field(message, 554)
            if self.password is not None and given != self.password:
                # (Raising fix.RejectLogon from Python aborts this binding's process, so the
                # session is logged out with the reason right after the Logon instead.)
                fix.Session.lookupSession(session_id).logout("bad credentials")
                say("REFUSED")
                return
            say(f"LOGON {field(message, 34, header=True)} {given or '-'}")
        elif kind == "0":
            say("HEARTBEAT")
        elif kind == "2":
            say(f"RESEND {field(message, 7)} {field(message, 16)}")

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass


def execution_report(tags: dict[str, str]) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(fix.MsgType("8"))
    for tag, value in tags.items():
        if int(tag) == 43:
            message.getHeader().setField(43, value)
        else:
            message.setField(int(tag), value)
    return message


def main() -> None:
    port, store, sender, target = sys.argv[1:5]
    password = sys.argv[5] if len(sys.argv) > 5 else None
    settings = fix.SessionSettings()
    settings.setFromString(SETTINGS.format(port=port, store=store, sender=sender, target=target))
    app = Counterparty(password)
    acceptor = fix.SocketAcceptor(app, fix.FileStoreFactory(settings), settings)
    acceptor.start()
    say("LISTENING")
    done = threading.Event()
    for line in sys.stdin:
        command = json.loads(line)
        assert app.session_id is not None
        if "send" in command:
            fix.Session.sendToTarget(execution_report(command["send"]), app.session_id)
            say("SENT")
        elif "drop" in command:
            session = fix.Session.lookupSession(app.session_id)
            session.disconnect()
            say("DROPPED")
        elif "quit" in command:
            done.set()
            break
    acceptor.stop()


if __name__ == "__main__":
    main()
