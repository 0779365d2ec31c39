from __future__ import annotations

import copy
import io
from collections.abc import Callable

import pytest

from tasktracker.application.attachments import (
    DEFAULT_CONTENT_TYPE,
    AttachmentUseCases,
    clean_content_type,
    storage_key,
    upload_key,
)
from tasktracker.application.storage_changes import SettleStorageChanges
from tasktracker.application.tasks import TaskUseCases
from tasktracker.domain.entities import Attachment, Task, User, new_id
from tasktracker.domain.enums import AuditEventType
from tasktracker.domain.errors import (
    AuthorizationError,
    DomainError,
    NotFoundError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    ValidationError,
)

from .fakes import AddAttachment, AddTask, Blob, FakeClock, FakeFileStorage, FakeUnitOfWork

MAX_BYTES = 16


@pytest.fixture
def attachments(uow: FakeUnitOfWork, storage: FakeFileStorage, clock: FakeClock) -> AttachmentUseCases:
    return AttachmentUseCases(uow, storage, clock, max_upload_bytes=MAX_BYTES, presigned_upload_ttl_seconds=600)


@pytest.fixture
def task(alice: User, add_task: AddTask) -> Task:
    return add_task(alice)


def upload(
    attachments: AttachmentUseCases,
    user: User,
    task: Task,
    data: bytes = b"hello",
    filename: str | None = "notes.txt",
    content_type: str | None = "text/plain",
) -> Attachment:
    return attachments.upload(user.id, task.id, filename=filename, content_type=content_type, stream=io.BytesIO(data))


def assert_nothing_kept(uow: FakeUnitOfWork, storage: FakeFileStorage) -> None:
    assert storage.objects == {}
    assert uow.committed_state.attachments == {}
    assert uow.events() == []
    assert uow.storage_outbox() == {}


# upload


def test_upload_stores_the_object_the_row_and_an_attachment_added_event(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    attachment = upload(
        attachments, alice, task, b"quarterly report", "../../Q3 report.txt", "Text/Plain; charset=utf-8"
    )
    assert attachment.storage_path == storage_key(task.id, attachment.id)
    assert storage.objects == {attachment.storage_path: Blob(b"quarterly report", "text/plain")}
    assert uow.committed_state.attachments == {attachment.id: attachment}
    assert (attachment.filename, attachment.content_type, attachment.size_bytes) == ("Q3 report.txt", "text/plain", 16)
    [event] = uow.events(AuditEventType.ATTACHMENT_ADDED)
    assert (event.user_id, event.task_id, event.attachment_id) == (alice.id, task.id, attachment.id)
    assert event.details == {"filename": "Q3 report.txt", "content_type": "text/plain", "size_bytes": 16}
    # Kept at once, so nothing is left for the settler.
    assert storage.pending == set()
    assert uow.storage_outbox() == {}


def test_the_row_and_its_keep_are_committed_before_storage_keeps_the_file(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    seen: dict[str, object] = {}

    def look() -> None:
        seen["rows"] = [row.storage_path for row in uow.committed_state.attachments.values()]
        seen["outbox"] = uow.storage_outbox()
        seen["pending"] = set(storage.pending)

    storage.interleave("mark_kept", look)
    attachment = upload(attachments, alice, task)

    key = attachment.storage_path
    assert seen == {"rows": [key], "outbox": {"keep": {key}}, "pending": {key}}
    assert [operation for operation, _ in storage.calls] == ["put", "mark_kept"]
    assert uow.storage_outbox() == {}


def test_the_storage_key_never_comes_from_the_filename(
    attachments: AttachmentUseCases, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    attachment = upload(attachments, alice, task, filename="../../../other-task/evil")
    assert list(storage.objects) == [f"tasks/{task.id}/{attachment.id}"]


def test_an_oversize_upload_is_refused_and_nothing_is_kept(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    with pytest.raises(PayloadTooLargeError):
        upload(attachments, alice, task, b"x" * (MAX_BYTES + 1))
    assert_nothing_kept(uow, storage)


def test_an_upload_of_exactly_the_limit_is_accepted(attachments: AttachmentUseCases, alice: User, task: Task) -> None:
    assert upload(attachments, alice, task, b"x" * MAX_BYTES).size_bytes == MAX_BYTES


def test_an_empty_upload_is_refused_and_nothing_is_kept(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    with pytest.raises(ValidationError) as error:
        upload(attachments, alice, task, b"")
    assert list(error.value.details["fields"]) == ["file"]
    assert_nothing_kept(uow, storage)


def test_b_cannot_upload_to_a_task_of_a(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, bob: User, task: Task
) -> None:
    with pytest.raises(AuthorizationError):
        upload(attachments, bob, task)
    assert_nothing_kept(uow, storage)
    assert not uow.committed


def test_upload_to_a_missing_task_is_not_found(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, alice: User
) -> None:
    ghost = Task.create(owner_id=alice.id, title="Never stored", now=alice.created_at)
    with pytest.raises(NotFoundError):
        upload(attachments, alice, ghost)
    assert_nothing_kept(uow, storage)


def test_the_object_is_removed_when_the_database_commit_fails(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    uow.commit_error = ServiceUnavailableError("database went away")
    with pytest.raises(ServiceUnavailableError):
        upload(attachments, alice, task)
    assert_nothing_kept(uow, storage)


def test_the_object_is_removed_when_the_task_is_deleted_while_the_bytes_travel(
    attachments: AttachmentUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    clock: FakeClock,
    alice: User,
    task: Task,
) -> None:
    storage.interleave("put", lambda: TaskUseCases(uow, clock).delete(alice.id, task.id))
    with pytest.raises(NotFoundError):
        upload(attachments, alice, task)
    assert storage.objects == {}
    assert uow.committed_state.attachments == {}


def test_a_storage_failure_during_upload_records_nothing(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    storage.fail("put")
    with pytest.raises(ServiceUnavailableError):
        upload(attachments, alice, task)
    assert_nothing_kept(uow, storage)


def test_a_missing_filename_becomes_file(attachments: AttachmentUseCases, alice: User, task: Task) -> None:
    assert upload(attachments, alice, task, filename=None).filename == "file"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("image/PNG", "image/png"),
        ("text/plain; charset=utf-8", "text/plain"),
        (None, DEFAULT_CONTENT_TYPE),
        ("", DEFAULT_CONTENT_TYPE),
        ("png", DEFAULT_CONTENT_TYPE),
        ("text/html\r\nSet-Cookie: a=b", DEFAULT_CONTENT_TYPE),
        ("application/" + "x" * 300, DEFAULT_CONTENT_TYPE),
        (" application/vnd.ms-excel ", "application/vnd.ms-excel"),
        ("application/ld+json", "application/ld+json"),
        ("text/pl\x00ain", DEFAULT_CONTENT_TYPE),
        ("text/\x01plain", DEFAULT_CONTENT_TYPE),
        ("text/plain\x1f", DEFAULT_CONTENT_TYPE),
        ("text/pl\x7fain", DEFAULT_CONTENT_TYPE),
        ("image/p\u00e9ng", DEFAULT_CONTENT_TYPE),
        ("image/\u212aoala", DEFAULT_CONTENT_TYPE),  # the Kelvin sign lower-cases into an ASCII k
        ("text/(plain)", DEFAULT_CONTENT_TYPE),
        ("text//plain", DEFAULT_CONTENT_TYPE),
        ("/plain", DEFAULT_CONTENT_TYPE),
    ],
)
def test_an_unusable_content_type_falls_back_to_octet_stream(raw: str | None, expected: str) -> None:
    assert clean_content_type(raw) == expected


# list, download


def test_anyone_can_list_the_attachments_of_a_task(
    attachments: AttachmentUseCases, task: Task, add_attachment: AddAttachment
) -> None:
    first, second = add_attachment(task), add_attachment(task)
    assert {attachment.id for attachment in attachments.list_for_task(task.id)} == {first.id, second.id}


def test_listing_the_attachments_of_a_missing_task_is_not_found(attachments: AttachmentUseCases) -> None:
    with pytest.raises(NotFoundError):
        attachments.list_for_task(new_id())


def test_download_returns_the_content(
    attachments: AttachmentUseCases, task: Task, add_attachment: AddAttachment
) -> None:
    attachment = add_attachment(task, data=b"the whole file, in chunks")
    download = attachments.download(attachment.id)
    assert download.attachment == attachment
    assert (download.content.size_bytes, download.content.content_type) == (25, "text/plain")
    assert b"".join(download.content.chunks) == b"the whole file, in chunks"


def test_download_of_a_missing_attachment_is_not_found(attachments: AttachmentUseCases) -> None:
    with pytest.raises(NotFoundError) as error:
        attachments.download(new_id())
    assert error.value.code == "ATTACHMENT_NOT_FOUND"


# delete


def test_delete_removes_the_row_and_the_object_and_records_attachment_removed(
    attachments: AttachmentUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    alice: User,
    task: Task,
    add_attachment: AddAttachment,
) -> None:
    removed, kept = add_attachment(task, filename="old.txt"), add_attachment(task)
    attachments.delete(alice.id, removed.id)
    assert list(uow.committed_state.attachments) == [kept.id]
    assert list(storage.objects) == [kept.storage_path]
    [event] = uow.events(AuditEventType.ATTACHMENT_REMOVED)
    assert (event.user_id, event.task_id, event.attachment_id) == (alice.id, task.id, removed.id)
    assert event.details == {"filename": "old.txt", "size_bytes": removed.size_bytes}


def test_the_row_and_its_discard_are_committed_before_storage_deletes_the_file(
    attachments: AttachmentUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    alice: User,
    task: Task,
    add_attachment: AddAttachment,
) -> None:
    attachment = add_attachment(task)
    seen: dict[str, object] = {}

    def look() -> None:
        seen["rows"] = dict(uow.committed_state.attachments)
        seen["outbox"] = uow.storage_outbox()

    storage.interleave("delete_many", look)
    attachments.delete(alice.id, attachment.id)

    assert seen == {"rows": {}, "outbox": {"discard": {attachment.storage_path}}}
    assert storage.objects == {}
    assert uow.storage_outbox() == {}


def test_a_storage_failure_after_a_delete_leaves_the_file_to_the_settler(
    attachments: AttachmentUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    alice: User,
    task: Task,
    add_attachment: AddAttachment,
) -> None:
    attachment = add_attachment(task)
    storage.fail("delete_many")

    attachments.delete(alice.id, attachment.id)

    # The delete is done for the user; the file waits in the outbox until storage takes it.
    assert uow.committed_state.attachments == {}
    assert [event.attachment_id for event in uow.events(AuditEventType.ATTACHMENT_REMOVED)] == [attachment.id]
    assert attachment.storage_path in storage.objects
    assert uow.storage_outbox() == {"discard": {attachment.storage_path}}


def test_a_file_storage_refuses_to_delete_stays_in_the_outbox(
    attachments: AttachmentUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    alice: User,
    task: Task,
    add_attachment: AddAttachment,
) -> None:
    attachment = add_attachment(task)
    storage.refuse_to_delete(attachment.storage_path)

    attachments.delete(alice.id, attachment.id)

    assert uow.committed_state.attachments == {}
    assert attachment.storage_path in storage.objects
    assert uow.storage_outbox() == {"discard": {attachment.storage_path}}


def test_b_cannot_delete_an_attachment_of_a(
    attachments: AttachmentUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    bob: User,
    task: Task,
    add_attachment: AddAttachment,
) -> None:
    attachment = add_attachment(task)
    before = copy.deepcopy(uow.committed_state)
    with pytest.raises(AuthorizationError):
        attachments.delete(bob.id, attachment.id)
    assert uow.committed_state == before
    assert attachment.storage_path in storage.objects
    assert not uow.committed
    assert storage.calls == []


def test_delete_of_a_missing_attachment_is_not_found(attachments: AttachmentUseCases, alice: User) -> None:
    with pytest.raises(NotFoundError) as error:
        attachments.delete(alice.id, new_id())
    assert error.value.code == "ATTACHMENT_NOT_FOUND"


# presigned uploads


def test_request_upload_presigns_the_task_key_with_the_limit(
    attachments: AttachmentUseCases, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    ticket = attachments.request_upload(alice.id, task.id, content_type="Image/PNG")
    key = upload_key(task.id, ticket.attachment_id)
    assert key != storage_key(task.id, ticket.attachment_id)
    assert storage.presigned == [(key, "image/png", MAX_BYTES)]
    assert ticket.upload.expires_in == 600


def test_b_cannot_request_an_upload_to_a_task_of_a(
    attachments: AttachmentUseCases, storage: FakeFileStorage, bob: User, task: Task
) -> None:
    with pytest.raises(AuthorizationError):
        attachments.request_upload(bob.id, task.id, content_type="text/plain")
    assert storage.presigned == []


def test_confirm_upload_records_the_uploaded_object(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    ticket = attachments.request_upload(alice.id, task.id, content_type="application/pdf")
    storage.receive_upload(upload_key(task.id, ticket.attachment_id), b"%PDF-1.7", "application/pdf")
    attachment = attachments.confirm_upload(alice.id, task.id, attachment_id=ticket.attachment_id, filename="a.pdf")
    assert attachment.id == ticket.attachment_id
    assert (attachment.content_type, attachment.size_bytes) == ("application/pdf", 8)
    assert uow.committed_state.attachments == {attachment.id: attachment}
    assert len(uow.events(AuditEventType.ATTACHMENT_ADDED)) == 1
    # Copied to the attachment's own key and kept there; the upload is gone.
    assert storage.objects == {storage_key(task.id, attachment.id): Blob(b"%PDF-1.7", "application/pdf")}
    assert storage.pending == set()
    assert uow.storage_outbox() == {}


def test_confirm_upload_checks_that_the_object_exists(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, alice: User, task: Task
) -> None:
    with pytest.raises(ValidationError) as error:
        attachments.confirm_upload(alice.id, task.id, attachment_id=new_id(), filename="a.pdf")
    assert list(error.value.details["fields"]) == ["attachment_id"]
    assert uow.committed_state.attachments == {}


@pytest.mark.parametrize("data", [b"", b"x" * (MAX_BYTES + 1)], ids=["empty", "oversize"])
def test_confirm_upload_removes_an_empty_or_oversize_object(
    data: bytes,
    attachments: AttachmentUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    alice: User,
    task: Task,
) -> None:
    attachment_id = new_id()
    storage.receive_upload(upload_key(task.id, attachment_id), data, "text/plain")
    with pytest.raises(ValidationError):
        attachments.confirm_upload(alice.id, task.id, attachment_id=attachment_id, filename="a.txt")
    assert_nothing_kept(uow, storage)


def test_b_cannot_confirm_an_upload_to_a_task_of_a(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, bob: User, task: Task
) -> None:
    attachment_id = new_id()
    storage.receive_upload(upload_key(task.id, attachment_id), b"data", "text/plain")
    with pytest.raises(AuthorizationError):
        attachments.confirm_upload(bob.id, task.id, attachment_id=attachment_id, filename="a.txt")
    assert uow.committed_state.attachments == {}


def test_confirming_an_upload_twice_is_refused_and_keeps_the_file(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    attachment_id = new_id()
    key = storage_key(task.id, attachment_id)
    storage.receive_upload(upload_key(task.id, attachment_id), b"data", "text/plain")
    attachments.confirm_upload(alice.id, task.id, attachment_id=attachment_id, filename="a.txt")
    with pytest.raises(ValidationError):
        attachments.confirm_upload(alice.id, task.id, attachment_id=attachment_id, filename="a.txt")
    assert key in storage.objects
    assert list(uow.committed_state.attachments) == [attachment_id]


def test_a_confirmation_that_loses_a_race_keeps_the_winners_file(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    attachment_id = new_id()
    key = storage_key(task.id, attachment_id)
    storage.receive_upload(upload_key(task.id, attachment_id), b"data", "text/plain")

    def confirm() -> Attachment:
        return attachments.confirm_upload(alice.id, task.id, attachment_id=attachment_id, filename="a.txt")

    # A retried request: the second confirmation passes the "already confirmed" check, then the first one
    # commits before the second writes its row.
    storage.interleave("head", confirm)
    with pytest.raises(DomainError):
        confirm()
    assert list(uow.committed_state.attachments) == [attachment_id]
    assert key in storage.objects
    assert storage.pending == set()
    assert uow.storage_outbox() == {}


def test_a_confirmation_copies_the_upload_before_its_commit_and_keeps_and_discards_after_it(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    attachment_id = new_id()
    source, key = upload_key(task.id, attachment_id), storage_key(task.id, attachment_id)
    storage.receive_upload(source, b"data", "text/plain")
    seen: dict[str, object] = {}

    def look(moment: str) -> Callable[[], None]:
        def record() -> None:
            seen[moment] = (list(uow.committed_state.attachments), uow.storage_outbox(), set(storage.pending))

        return record

    storage.interleave("copy", look("copy"))
    storage.interleave("mark_kept", look("keep"))
    storage.interleave("delete_many", look("discard"))
    attachments.confirm_upload(alice.id, task.id, attachment_id=attachment_id, filename="a.txt")

    assert [operation for operation, _ in storage.calls] == ["head", "copy", "mark_kept", "delete_many"]
    # Copied before anything is committed; kept, then the upload deleted, only once row and changes are.
    assert seen["copy"] == ([], {}, {source})
    committed = {"keep": {key}, "discard": {source}}
    assert seen["keep"] == ([attachment_id], committed, {source, key})
    assert seen["discard"] == ([attachment_id], {"discard": {source}}, {source})
    assert storage.objects == {key: Blob(b"data", "text/plain")}
    assert storage.pending == set()
    assert uow.storage_outbox() == {}


def test_a_form_posted_again_after_its_confirmation_never_reaches_the_confirmed_file(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    ticket = attachments.request_upload(alice.id, task.id, content_type="text/plain")
    source = upload_key(task.id, ticket.attachment_id)
    storage.receive_upload(source, b"first", "text/plain")
    attachment = attachments.confirm_upload(alice.id, task.id, attachment_id=ticket.attachment_id, filename="a.txt")

    storage.receive_upload(source, b"second", "text/plain")
    with pytest.raises(ValidationError) as error:
        attachments.confirm_upload(alice.id, task.id, attachment_id=ticket.attachment_id, filename="a.txt")
    assert list(error.value.details["fields"]) == ["attachment_id"]

    assert b"".join(attachments.download(attachment.id).content.chunks) == b"first"
    assert storage.objects[attachment.storage_path] == Blob(b"first", "text/plain")
    # Only the upload key was written again, and it stays pending: storage expires it.
    assert storage.pending == {source}
    assert list(uow.committed_state.attachments) == [attachment.id]


def test_an_upload_storage_cannot_delete_after_its_confirmation_is_left_to_the_settler(
    attachments: AttachmentUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    clock: FakeClock,
    alice: User,
    task: Task,
) -> None:
    attachment_id = new_id()
    source = upload_key(task.id, attachment_id)
    storage.receive_upload(source, b"data", "text/plain")
    storage.fail("delete_many")
    attachment = attachments.confirm_upload(alice.id, task.id, attachment_id=attachment_id, filename="a.txt")
    assert storage.pending == {source}
    assert uow.storage_outbox() == {"discard": {source}}

    storage.recover()
    clock.advance(minutes=1)
    SettleStorageChanges(uow, lambda: storage, clock)()
    assert list(storage.objects) == [attachment.storage_path]
    assert uow.storage_outbox() == {}


def test_a_confirmation_whose_copy_fails_records_nothing(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    attachment_id = new_id()
    source = upload_key(task.id, attachment_id)
    storage.receive_upload(source, b"data", "text/plain")
    storage.fail("copy")
    with pytest.raises(ServiceUnavailableError):
        attachments.confirm_upload(alice.id, task.id, attachment_id=attachment_id, filename="a.txt")
    assert uow.committed_state.attachments == {}
    assert uow.storage_outbox() == {}
    assert set(storage.objects) == storage.pending == {source}


def test_confirm_upload_records_a_clean_content_type_like_upload_does(
    attachments: AttachmentUseCases, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    attachment_id = new_id()
    storage.receive_upload(upload_key(task.id, attachment_id), b"<p>hi</p>", "Text/HTML; charset=utf-8")
    attachment = attachments.confirm_upload(alice.id, task.id, attachment_id=attachment_id, filename="a.html")
    assert attachment.content_type == clean_content_type("Text/HTML; charset=utf-8") == "text/html"


# pending objects: storage expires whatever is not recorded


def test_an_uploaded_file_is_kept_once_its_row_is_written(
    attachments: AttachmentUseCases, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    attachment = upload(attachments, alice, task)
    assert attachment.storage_path in storage.objects
    assert storage.pending == set()


def test_a_presigned_upload_stays_pending_until_it_is_confirmed(
    attachments: AttachmentUseCases, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    confirmed, unconfirmed = (attachments.request_upload(alice.id, task.id, content_type=None) for _ in range(2))
    for ticket in (confirmed, unconfirmed):
        storage.receive_upload(upload_key(task.id, ticket.attachment_id), b"data", "text/plain")
    attachments.confirm_upload(alice.id, task.id, attachment_id=confirmed.attachment_id, filename="a.txt")
    assert storage.pending == {upload_key(task.id, unconfirmed.attachment_id)}


@pytest.mark.parametrize("path", ["upload", "confirm"])
def test_when_storage_cannot_keep_the_file_yet_the_upload_is_recorded_and_its_keep_waits_for_the_settler(
    path: str,
    attachments: AttachmentUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    clock: FakeClock,
    alice: User,
    task: Task,
) -> None:
    storage.fail("mark_kept")
    if path == "upload":
        attachment = upload(attachments, alice, task)
    else:
        attachment_id = new_id()
        storage.receive_upload(upload_key(task.id, attachment_id), b"data", "text/plain")
        attachment = attachments.confirm_upload(alice.id, task.id, attachment_id=attachment_id, filename="a.txt")
    key = attachment.storage_path
    assert list(uow.committed_state.attachments) == [attachment.id]
    assert storage.pending == {key}
    assert uow.storage_outbox() == {"keep": {key}}

    storage.recover()
    clock.advance(minutes=1)
    settled = SettleStorageChanges(uow, lambda: storage, clock)()

    assert settled.settled == 1
    assert storage.pending == set()
    assert uow.storage_outbox() == {}


def test_an_upload_that_vanished_before_it_was_kept_records_nothing(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    attachment_id = new_id()
    key = storage_key(task.id, attachment_id)
    storage.receive_upload(upload_key(task.id, attachment_id), b"data", "text/plain")
    storage.interleave("mark_kept", lambda: storage.objects.pop(key))
    with pytest.raises(ValidationError) as error:
        attachments.confirm_upload(alice.id, task.id, attachment_id=attachment_id, filename="a.txt")
    assert list(error.value.details["fields"]) == ["attachment_id"]
    # The row written just before is taken back, and the trail says so.
    assert uow.committed_state.attachments == {}
    assert uow.storage_outbox() == {}
    [removed] = uow.events(AuditEventType.ATTACHMENT_REMOVED)
    assert removed.details["file_missing"] is True


def test_a_confirmation_whose_commit_fails_leaves_the_upload_pending_for_a_retry(
    attachments: AttachmentUseCases, uow: FakeUnitOfWork, storage: FakeFileStorage, alice: User, task: Task
) -> None:
    attachment_id = new_id()
    key = storage_key(task.id, attachment_id)
    storage.receive_upload(upload_key(task.id, attachment_id), b"data", "text/plain")
    uow.commit_error = ServiceUnavailableError("database went away")
    with pytest.raises(ServiceUnavailableError):
        attachments.confirm_upload(alice.id, task.id, attachment_id=attachment_id, filename="a.txt")
    assert uow.committed_state.attachments == {}
    # The copy nobody records is deleted; the upload stays pending for the retry.
    assert storage.pending == set(storage.objects) == {upload_key(task.id, attachment_id)}
    assert key not in storage.objects
    assert uow.storage_outbox() == {}
    assert "mark_kept" not in [operation for operation, _ in storage.calls]

    uow.commit_error = None
    attachments.confirm_upload(alice.id, task.id, attachment_id=attachment_id, filename="a.txt")
    assert list(uow.committed_state.attachments) == [attachment_id]
    assert storage.pending == set()
    assert uow.storage_outbox() == {}


@pytest.mark.parametrize("path", ["upload", "confirm"])
def test_a_commit_that_only_seemed_to_fail_keeps_the_recorded_file(
    path: str,
    attachments: AttachmentUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    alice: User,
    task: Task,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    committed = uow.commit

    def commit_then_lose_the_answer() -> None:
        committed()
        raise ServiceUnavailableError("the connection dropped before the database answered")

    monkeypatch.setattr(uow, "commit", commit_then_lose_the_answer)
    with pytest.raises(ServiceUnavailableError):
        if path == "upload":
            upload(attachments, alice, task)
        else:
            attachment_id = new_id()
            storage.receive_upload(upload_key(task.id, attachment_id), b"data", "text/plain")
            attachments.confirm_upload(alice.id, task.id, attachment_id=attachment_id, filename="a.txt")
    [attachment] = uow.committed_state.attachments.values()
    assert list(storage.objects) == [attachment.storage_path]
    assert storage.pending == set()
    assert uow.storage_outbox() == {}


def test_a_storage_failure_after_a_failed_commit_is_logged_not_raised_over_the_cause(
    attachments: AttachmentUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    alice: User,
    task: Task,
    caplog: pytest.LogCaptureFixture,
) -> None:
    uow.commit_error = ServiceUnavailableError("database went away")
    storage.interleave("delete", lambda: storage.fail("delete"))
    with pytest.raises(ServiceUnavailableError, match="database went away"):
        upload(attachments, alice, task)
    assert any(record.levelname == "WARNING" and "pending" in record.getMessage() for record in caplog.records)
    # Never marked kept, so storage expires it.
    assert set(storage.objects) == storage.pending != set()
    assert uow.committed_state.attachments == {}
