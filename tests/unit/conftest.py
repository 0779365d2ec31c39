from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tasktracker.application.attachments import storage_key
from tasktracker.application.context import set_correlation_id
from tasktracker.domain.entities import Attachment, Task, User, new_id

from .fakes import (
    NOW,
    PASSWORD,
    AddAttachment,
    AddTask,
    AddUser,
    Blob,
    FakeAccessTokenIssuer,
    FakeClock,
    FakeFileStorage,
    FakePasswordHasher,
    FakeUnitOfWork,
)


@pytest.fixture(autouse=True)
def _no_correlation_id() -> Iterator[None]:
    # The correlation id is a context variable: a value set by one test would leak into the next.
    set_correlation_id(None)
    yield
    set_correlation_id(None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def hasher() -> FakePasswordHasher:
    return FakePasswordHasher()


@pytest.fixture
def issuer() -> FakeAccessTokenIssuer:
    return FakeAccessTokenIssuer()


@pytest.fixture
def storage() -> FakeFileStorage:
    return FakeFileStorage()


@pytest.fixture
def add_user(uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FakeClock) -> AddUser:
    def add(email: str, *, password: str = PASSWORD, is_active: bool = True, password_hash: str | None = None) -> User:
        user = User(
            id=new_id(),
            email=email,
            password_hash=password_hash or hasher.hash(password),
            full_name=None,
            is_active=is_active,
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        uow.seed(user)
        return user

    return add


@pytest.fixture
def alice(add_user: AddUser) -> User:
    return add_user("alice@example.com")


@pytest.fixture
def bob(add_user: AddUser) -> User:
    return add_user("bob@example.com")


@pytest.fixture
def add_task(uow: FakeUnitOfWork, clock: FakeClock) -> AddTask:
    def add(owner: User, title: str = "Write the quarterly report", **fields: Any) -> Task:
        task = Task.create(owner_id=owner.id, title=title, now=clock.now(), **fields)
        uow.seed(task)
        return task

    return add


@pytest.fixture
def add_attachment(uow: FakeUnitOfWork, storage: FakeFileStorage, clock: FakeClock) -> AddAttachment:
    def add(task: Task, data: bytes = b"meeting notes", filename: str = "notes.txt") -> Attachment:
        attachment_id = new_id()
        attachment = Attachment(
            id=attachment_id,
            task_id=task.id,
            filename=filename,
            content_type="text/plain",
            size_bytes=len(data),
            storage_path=storage_key(task.id, attachment_id),
            created_at=clock.now(),
        )
        storage.objects[attachment.storage_path] = Blob(data, attachment.content_type)
        uow.seed(attachment)
        return attachment

    return add
