"""SmtpEmailSender against a real SMTP server (the local mail sink) on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from local.mail_sink import MailSink, StoredMessage
from tasktracker.adapters.delivery.smtp import SmtpEmailSender
from tasktracker.application.ports import DeliveryFailed, OutgoingEmail
from tests.support.certificates import Authority, make_authority

REPOSITORY = Path(__file__).resolve().parents[2]
REFUSED = "gone@example.com"


def reminder(message_id: str = "<3f1c2a9e-0b7d-4e52-9a61-7f0e5d2c8b14@tasktracker.localhost>") -> OutgoingEmail:
    return OutgoingEmail(
        message_id=message_id,
        sender="Task Tracker <reminders@tasktracker.localhost>",
        to="Ann Example <ann@example.com>",
        subject="Due soon: Quarterly report ✓",
        text="Your task “Quarterly report” is due tomorrow at 09:00.\n\nOpen it: http://localhost:8000/tasks/1\n",
    )


def api(sink: MailSink, path: str) -> Any:
    with urllib.request.urlopen(sink.http_url + path, timeout=5) as response:
        return json.load(response)


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[MailSink]:
    with MailSink(tmp_path / "mail", refused_recipients=[REFUSED]) as running:
        yield running


def test_a_message_arrives_with_its_headers_and_body(sink: MailSink) -> None:
    email = reminder()
    SmtpEmailSender(f"smtp://127.0.0.1:{sink.smtp_port}", 5).send(email)

    [stored] = sink.messages()
    raw = BytesParser(policy=policy.default).parsebytes(stored.path.read_bytes())
    assert raw["Message-ID"] == email.message_id
    assert raw["Subject"] == email.subject
    assert raw["From"] == email.sender
    assert raw["To"] == email.to
    assert raw["Auto-Submitted"] == "auto-generated"
    assert abs(parsedate_to_datetime(raw["Date"]).timestamp() - time.time()) < 60
    assert stored.text.replace("\r\n", "\n") == email.text
    assert (stored.message_id, stored.sender, stored.to) == (
        email.message_id.strip("<>"),
        "reminders@tasktracker.localhost",
        ("ann@example.com",),
    )
    [receipt] = sink.receipts()
    assert (receipt.message_id, receipt.to, receipt.subject) == (stored.message_id, ("ann@example.com",), email.subject)


def test_a_resend_with_the_same_message_id_is_kept_once_and_received_twice(sink: MailSink) -> None:
    sender = SmtpEmailSender(f"smtp://127.0.0.1:{sink.smtp_port}", 5)
    sender.send(reminder())
    sender.send(reminder())
    sender.send(reminder("<another@tasktracker.localhost>"))

    assert sorted(path.name for path in sink.folder.glob("*.eml")) == sorted(m.path.name for m in sink.messages())
    assert len(list(sink.folder.glob("*.eml"))) == 2
    receipts = [receipt.message_id for receipt in sink.receipts()]
    first = reminder().message_id.strip("<>")
    assert receipts == [first, first, "another@tasktracker.localhost"]
    lines = (sink.folder / "receipts.jsonl").read_text().splitlines()
    assert [set(json.loads(line)) for line in lines] == [{"message_id", "to", "subject", "received_at"}] * 3


def test_the_http_api_lists_and_shows_messages_as_mailpit_does(sink: MailSink) -> None:
    sender = SmtpEmailSender(f"smtp://127.0.0.1:{sink.smtp_port}", 5)
    sender.send(reminder())
    time.sleep(0.02)  # the newest is told by its time of arrival
    sender.send(reminder("<second@tasktracker.localhost>"))

    listing = api(sink, "/api/v1/messages")
    assert listing["total"] == 2
    newest, oldest = listing["messages"]
    assert newest["MessageID"] == "second@tasktracker.localhost"
    assert oldest["MessageID"] == reminder().message_id.strip("<>")
    assert oldest["Subject"] == reminder().subject
    assert oldest["From"]["Address"] == "reminders@tasktracker.localhost"
    assert [to["Address"] for to in oldest["To"]] == ["ann@example.com"]
    assert oldest["Created"].endswith("Z") and oldest["ID"]

    detail = api(sink, f"/api/v1/message/{oldest['ID']}")
    assert detail["MessageID"] == oldest["MessageID"]
    assert detail["Text"].replace("\r\n", "\n") == reminder().text
    assert api(sink, "/api/v1/message/latest")["MessageID"] == "second@tasktracker.localhost"
    headers = api(sink, f"/api/v1/message/{oldest['ID']}/headers")
    assert headers["Auto-Submitted"] == ["auto-generated"]
    assert headers["Message-ID"] == [reminder().message_id]

    for missing in ("nothing-here", "..%2F..%2Fetc%2Fpasswd", ".incoming-x"):
        with pytest.raises(urllib.error.HTTPError) as not_found:
            api(sink, f"/api/v1/message/{missing}")
        assert not_found.value.code == 404


def test_a_refused_recipient_fails_for_good(sink: MailSink) -> None:
    email = OutgoingEmail("<r@tasktracker.localhost>", "reminders@tasktracker.localhost", REFUSED, "s", "t")
    with pytest.raises(DeliveryFailed) as failed:
        SmtpEmailSender(f"smtp://127.0.0.1:{sink.smtp_port}", 5).send(email)
    assert (failed.value.permanent, failed.value.status) == (True, 550)
    assert sink.messages() == [] and sink.receipts() == []


def test_a_header_that_would_break_the_message_fails_for_good(sink: MailSink) -> None:
    email = OutgoingEmail("<h@tasktracker.localhost>", "reminders@tasktracker.localhost", "ann@example.com",
                          "Due soon\r\nBcc: everyone@example.com", "t")  # fmt: skip
    with pytest.raises(DeliveryFailed) as failed:
        SmtpEmailSender(f"smtp://127.0.0.1:{sink.smtp_port}", 5).send(email)
    assert failed.value.permanent is True
    assert sink.receipts() == []


def test_a_closed_port_fails_for_now() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens there any more.
    with pytest.raises(DeliveryFailed) as failed:
        SmtpEmailSender(f"smtp://127.0.0.1:{port}", 5).send(reminder())
    assert (failed.value.permanent, failed.value.status) == (False, None)


def test_a_server_that_never_greets_fails_for_now_within_the_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        started = time.monotonic()
        with pytest.raises(DeliveryFailed) as failed:
            SmtpEmailSender(f"smtp://127.0.0.1:{silent.getsockname()[1]}", 0.5).send(reminder())
        elapsed = time.monotonic() - started
    assert failed.value.permanent is False
    assert 0.4 < elapsed < 3


def test_a_login_with_a_percent_encoded_password_is_accepted_and_a_wrong_one_waits(tmp_path: Path) -> None:
    for index, password in enumerate(("p@ss:word/%", "pässwörd")):  # the second takes AUTH PLAIN in UTF-8
        with MailSink(tmp_path / f"mail-{index}", credentials=("reminders", password)) as sink:
            url = f"smtp://reminders:{urllib.parse.quote(password, safe='')}@127.0.0.1:{sink.smtp_port}"
            SmtpEmailSender(url, 5).send(reminder())
            assert len(sink.messages()) == 1

    with MailSink(tmp_path / "mail", credentials=("reminders", "secret")) as sink:
        wrong = SmtpEmailSender(f"smtp://reminders:not-it-at-all@127.0.0.1:{sink.smtp_port}", 5)
        with pytest.raises(DeliveryFailed) as failed:
            wrong.send(reminder("<other@tasktracker.localhost>"))
        assert (failed.value.permanent, failed.value.status) == (False, 535)
        assert "not-it-at-all" not in str(failed.value) and "not-it-at-all" not in repr(wrong)
        assert sink.messages() == []

        anonymous = SmtpEmailSender(f"smtp://127.0.0.1:{sink.smtp_port}", 5)
        with pytest.raises(DeliveryFailed) as refused:
            anonymous.send(reminder("<anonymous@tasktracker.localhost>"))
        # Authentication required: a setting to fix, not a reason to drop the message.
        assert (refused.value.permanent, refused.value.status) == (False, 530)
        assert sink.messages() == []


@pytest.mark.parametrize(
    "url",
    [
        "http://reminders:hunter2@mail.example.com",
        "smtp://reminders:hunter2@",
        "smtp://reminders:hunter2@mail.example.com:99999",
        "smtp://reminders:hunter2@mail.example.com?tls=yes",
        "smtp://reminders:hunter2@mail.example.com?starttls=maybe",
        "smtps://reminders:hunter2@mail.example.com?starttls=required",
    ],
)
def test_a_bad_smtp_url_is_refused_at_start_without_its_password(url: str) -> None:
    with pytest.raises(ValueError) as refused:
        SmtpEmailSender(url)
    assert "hunter2" not in str(refused.value)


def test_the_sender_shows_no_password() -> None:
    sender = SmtpEmailSender("smtps://reminders:hunter2@mail.example.com")
    assert (sender.host, sender.port, sender.user) == ("mail.example.com", 465, "reminders")
    assert "hunter2" not in repr(sender)


def test_starttls_required_refuses_a_server_that_does_not_offer_it(sink: MailSink) -> None:
    with pytest.raises(DeliveryFailed) as failed:
        SmtpEmailSender(f"smtp://127.0.0.1:{sink.smtp_port}?starttls=required", 5).send(reminder())
    assert failed.value.permanent is False and "STARTTLS" in str(failed.value)
    assert sink.messages() == []


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return make_authority(tmp_path / "ca")


def test_starttls_is_used_when_offered_and_the_certificate_checked(tmp_path: Path, authority: Authority) -> None:
    tls = authority.server_context("localhost")
    with MailSink(tmp_path / "mail", tls_context=tls, credentials=("reminders", "secret")) as sink:
        url = f"smtp://reminders:secret@localhost:{sink.smtp_port}?starttls=required"
        SmtpEmailSender(url, 5, ssl_context=authority.client_context()).send(reminder())
        assert len(sink.messages()) == 1

        # The system's trust does not know the test authority: the certificate is refused, nothing is sent.
        with pytest.raises(DeliveryFailed) as failed:
            SmtpEmailSender(url, 5).send(reminder("<unverified@tasktracker.localhost>"))
        assert failed.value.permanent is False and "certificate" in str(failed.value).lower()
        assert len(sink.receipts()) == 1


def test_smtps_speaks_tls_from_the_first_byte(tmp_path: Path, authority: Authority) -> None:
    # The sink speaks plain SMTP: an smtps client must fail at the handshake, not send in clear.
    with MailSink(tmp_path / "mail") as sink:
        with pytest.raises(DeliveryFailed) as failed:
            SmtpEmailSender(f"smtps://localhost:{sink.smtp_port}", 5, ssl_context=authority.client_context()).send(
                reminder()
            )
        assert failed.value.permanent is False
        assert sink.receipts() == []


def test_a_message_kept_before_the_sender_heard_so_is_resent_and_kept_once(tmp_path: Path) -> None:
    """The sender dies after the server kept the message but before it said 250: the resend, with the same
    Message-ID, leaves one message in the mailbox and a second receipt."""
    stored: list[StoredMessage] = []
    sender_process: list[subprocess.Popen[bytes]] = []

    def kill_the_sender(message: StoredMessage) -> None:
        stored.append(message)
        process = sender_process[0]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    with MailSink(tmp_path / "mail", on_stored=kill_the_sender) as sink:
        email = reminder()
        program = textwrap.dedent(
            f"""
            from tasktracker.adapters.delivery.smtp import SmtpEmailSender
            from tasktracker.application.ports import OutgoingEmail
            email = OutgoingEmail(*{list(vars(email).values())!r})
            SmtpEmailSender("smtp://127.0.0.1:{sink.smtp_port}", 10).send(email)
            print("sent")
            """
        )
        environment = {**os.environ, "PYTHONPATH": f"{REPOSITORY}{os.pathsep}{REPOSITORY / 'layers'}"}
        process = subprocess.Popen([sys.executable, "-c", program], env=environment, stdout=subprocess.PIPE)
        sender_process.append(process)
        output, _ = process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL and b"sent" not in output
        assert len(stored) == 1

        sink.on_stored = None
        SmtpEmailSender(f"smtp://127.0.0.1:{sink.smtp_port}", 5).send(email)

        assert len(sink.messages()) == 1
        assert [receipt.message_id for receipt in sink.receipts()] == [email.message_id.strip("<>")] * 2


def test_a_hook_failure_after_keeping_is_a_transient_failure_and_the_resend_is_kept_once(tmp_path: Path) -> None:
    def refuse_once(message: StoredMessage) -> None:
        raise RuntimeError("simulated: the answer is lost")

    with MailSink(tmp_path / "mail", on_stored=refuse_once) as sink:
        sender = SmtpEmailSender(f"smtp://127.0.0.1:{sink.smtp_port}", 5)
        with pytest.raises(DeliveryFailed) as failed:
            sender.send(reminder())
        assert (failed.value.permanent, failed.value.status) == (False, 451)
        sink.on_stored = None
        sender.send(reminder())
        assert len(sink.messages()) == 1 and len(sink.receipts()) == 2


def test_the_sink_runs_as_a_program_and_stops_on_sigterm(tmp_path: Path) -> None:
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    smtp_port, http_port = ports
    folder = tmp_path / "mail"
    process = subprocess.Popen(
        [sys.executable, "-m", "local.mail_sink", "--folder", str(folder), "--smtp-port", str(smtp_port),
         "--http-port", str(http_port)],
        cwd=REPOSITORY,
        env={**os.environ, "PYTHONPATH": f"{REPOSITORY}{os.pathsep}{REPOSITORY / 'layers'}"},
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=1):
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "the sink did not start"
                time.sleep(0.05)
        SmtpEmailSender(f"smtp://127.0.0.1:{smtp_port}", 5).send(reminder())
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/v1/messages", timeout=5) as response:
            assert json.load(response)["total"] == 1
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=15)
    assert process.returncode == 0
    kept = [line for line in errors.splitlines() if "kept <" in line]
    assert len(kept) == 1 and str(folder) in kept[0]
    assert len(list(folder.glob("*.eml"))) == 1


def test_concurrent_senders_each_get_their_answer(sink: MailSink) -> None:
    errors: list[BaseException] = []

    def send(index: int) -> None:
        try:
            SmtpEmailSender(f"smtp://127.0.0.1:{sink.smtp_port}", 5).send(reminder(f"<m{index}@tasktracker.localhost>"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(sink.messages()) == 8 and len(sink.receipts()) == 8
