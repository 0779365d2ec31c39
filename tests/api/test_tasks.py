"""The tasks function through the real router, as a client uses it.

The database is shared by the whole session, so every test scopes what it lists to its own data: a fresh
user (owner=me) or tags and search words made unique with a uuid fragment.
"""

from __future__ import annotations

import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import boto3
import psycopg
import pytest
import requests

from tests.support.api import Api, SignedInUser, assert_error, sign_up

TASK_FIELDS = {
    "id",
    "owner_id",
    "owner_email",
    "title",
    "description",
    "status",
    "priority",
    "due_date",
    "tags",
    "created_at",
    "updated_at",
}
TASKS = "/api/v1/tasks"


def unique_word(prefix: str = "w") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def create_task(api: Api, user: SignedInUser, **fields: Any) -> dict[str, Any]:
    fields.setdefault("title", unique_word("task-"))
    created = api.post(TASKS, token=user.access_token, json=fields)
    assert created.status_code == 201, created.text
    task: dict[str, Any] = created.json()
    return task


def list_tasks(api: Api, user: SignedInUser, **params: Any) -> dict[str, Any]:
    listed = api.get(TASKS, token=user.access_token, params=params)
    assert listed.status_code == 200, listed.text
    page: dict[str, Any] = listed.json()
    return page


def titles(page: dict[str, Any]) -> list[str]:
    return [item["title"] for item in page["items"]]


def field_errors(response: Any) -> dict[str, Any]:
    fields: dict[str, Any] = assert_error(response, 400, "VALIDATION_ERROR")["details"]["fields"]
    return fields


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def task_row(db: psycopg.Connection, task_id: str) -> tuple[Any, ...] | None:
    return db.execute(
        "SELECT t.*, array(SELECT tag_id FROM task_tags WHERE task_id = t.id ORDER BY position)"
        " FROM tasks t WHERE id = %s",
        (task_id,),
    ).fetchone()


def audit_events(db: psycopg.Connection, task_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    rows = db.execute(
        "SELECT event_type, user_id::text, details FROM audit_events WHERE task_id = %s ORDER BY created_at",
        (task_id,),
    ).fetchall()
    return [(row[0], row[1], row[2]) for row in rows]


# create and read


def test_create_with_every_field_answers_the_task(api: Api) -> None:
    ada = sign_up(api, "ada")
    task = create_task(
        api,
        ada,
        title="  Ship the release ",
        description="Tag it and write the notes",
        status="IN_PROGRESS",
        priority="HIGH",
        due_date="2030-01-02T03:04:05+02:00",
        tags=["Backend", "urgent", "backend "],
    )
    assert set(task) == TASK_FIELDS
    assert uuid.UUID(task["id"])
    assert (task["owner_id"], task["owner_email"]) == (ada.id, ada.email)
    assert task["title"] == "Ship the release"
    assert task["description"] == "Tag it and write the notes"
    assert (task["status"], task["priority"]) == ("IN_PROGRESS", "HIGH")
    assert instant(task["due_date"]) == instant("2030-01-02T01:04:05+00:00")
    assert task["tags"] == ["backend", "urgent"]
    assert instant(task["created_at"]) == instant(task["updated_at"])
    assert instant(task["created_at"]).tzinfo is not None


def test_create_with_only_a_title_takes_the_defaults(api: Api) -> None:
    ada = sign_up(api, "ada")
    task = create_task(api, ada, title="Just a title")
    assert {name: task[name] for name in ("description", "status", "priority", "due_date", "tags")} == {
        "description": None,
        "status": "TODO",
        "priority": "MEDIUM",
        "due_date": None,
        "tags": [],
    }


def test_get_answers_the_task_and_an_empty_attachment_list(api: Api) -> None:
    ada = sign_up(api, "ada")
    task = create_task(api, ada, tags=["one", "two"], due_date="2030-05-01T09:00:00Z")
    detail = api.get(f"{TASKS}/{task['id']}", token=ada.access_token)
    assert detail.status_code == 200
    assert detail.json() == {"task": task, "attachments": []}


def test_get_lists_attachment_summaries_without_storage_paths(api: Api, db: psycopg.Connection) -> None:
    ada = sign_up(api, "ada")
    task = create_task(api, ada)
    attachment_id = uuid.uuid4()
    db.execute(
        "INSERT INTO attachments (id, task_id, filename, content_type, size_bytes, storage_path)"
        " VALUES (%s, %s, 'notes.txt', 'text/plain', 12, %s)",
        (attachment_id, task["id"], f"tasks/{task['id']}/{attachment_id}"),
    )
    [attachment] = api.get(f"{TASKS}/{task['id']}", token=ada.access_token).json()["attachments"]
    assert set(attachment) == {"id", "filename", "content_type", "size_bytes", "created_at"}
    assert (attachment["id"], attachment["filename"], attachment["size_bytes"]) == (str(attachment_id), "notes.txt", 12)


def test_every_endpoint_requires_a_signed_in_user(api: Api) -> None:
    ada = sign_up(api, "ada")
    task = create_task(api, ada)
    assert_error(api.get(TASKS), 401, "AUTHENTICATION_REQUIRED")
    assert_error(api.get(f"{TASKS}/{task['id']}"), 401)
    assert_error(api.post(TASKS, json={"title": "anonymous"}), 401)
    assert_error(api.patch(f"{TASKS}/{task['id']}", json={"title": "anonymous"}), 401)
    assert_error(api.delete(f"{TASKS}/{task['id']}", token="not.a.token"), 401, "INVALID_TOKEN")


def test_unknown_and_malformed_ids_answer_404(api: Api) -> None:
    ada = sign_up(api, "ada")
    unknown = f"{TASKS}/{uuid.uuid4()}"
    assert_error(api.get(unknown, token=ada.access_token), 404, "TASK_NOT_FOUND")
    assert_error(api.put(unknown, token=ada.access_token, json={"title": "x"}), 404, "TASK_NOT_FOUND")
    assert_error(api.patch(unknown, token=ada.access_token, json={"title": "x"}), 404, "TASK_NOT_FOUND")
    assert_error(api.delete(unknown, token=ada.access_token), 404, "TASK_NOT_FOUND")
    for malformed in ("not-a-uuid", "1234", "00000000-0000-0000-0000-00000000000g"):
        assert_error(api.get(f"{TASKS}/{malformed}", token=ada.access_token), 404)
        assert_error(api.patch(f"{TASKS}/{malformed}", token=ada.access_token, json={"title": "x"}), 404)
        assert_error(api.delete(f"{TASKS}/{malformed}", token=ada.access_token), 404)


# validation


@pytest.mark.parametrize("field", ["id", "owner_id", "created_at", "updated_at", "owner_email", "colour"])
def test_unknown_or_read_only_fields_are_refused_naming_them(api: Api, field: str) -> None:
    ada = sign_up(api, "ada")
    task = create_task(api, ada)
    value = str(uuid.uuid4())
    assert field in field_errors(api.post(TASKS, token=ada.access_token, json={"title": "x", field: value}))
    path = f"{TASKS}/{task['id']}"
    assert field in field_errors(api.put(path, token=ada.access_token, json={"title": "x", field: value}))
    assert field in field_errors(api.patch(path, token=ada.access_token, json={field: value}))


def test_invalid_fields_are_refused_naming_them(api: Api) -> None:
    ada = sign_up(api, "ada")
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "x", "status": "FINISHED"}, "status"),
        ({"title": "x", "priority": "urgent"}, "priority"),
        ({"title": "x", "tags": [f"tag{n}" for n in range(21)]}, "tags"),
        ({"title": "x", "tags": ["y" * 51]}, "tags"),
        ({"title": "x", "tags": "not-a-list"}, "tags"),
        ({"title": "x", "due_date": "tomorrow"}, "due_date"),
    ]
    for body, field in cases:
        assert field in field_errors(api.post(TASKS, token=ada.access_token, json=body)), body
    assert create_task(api, ada, title="x" * 200, tags=[f"tag{n}" for n in range(20)])


def test_a_due_date_without_timezone_is_refused_naming_due_date(api: Api) -> None:
    ada = sign_up(api, "ada")
    naive = "2030-01-01T10:00:00"
    assert "due_date" in field_errors(api.post(TASKS, token=ada.access_token, json={"title": "x", "due_date": naive}))
    task = create_task(api, ada)
    patched = api.patch(f"{TASKS}/{task['id']}", token=ada.access_token, json={"due_date": naive})
    assert "due_date" in field_errors(patched)
    assert "due_from" in field_errors(api.get(TASKS, token=ada.access_token, params={"due_from": naive}))


# change and delete


def test_put_replaces_every_field_and_clears_the_omitted_ones(api: Api) -> None:
    ada = sign_up(api, "ada")
    task = create_task(
        api, ada, description="d", status="DONE", priority="LOW", due_date="2030-01-01T00:00:00Z", tags=["a"]
    )
    replaced = api.put(f"{TASKS}/{task['id']}", token=ada.access_token, json={"title": "Renamed"})
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert (body["id"], body["title"], body["created_at"]) == (task["id"], "Renamed", task["created_at"])
    assert (body["description"], body["status"], body["priority"], body["due_date"], body["tags"]) == (
        None,
        "TODO",
        "MEDIUM",
        None,
        [],
    )
    assert instant(body["updated_at"]) > instant(task["updated_at"])
    assert api.get(f"{TASKS}/{task['id']}", token=ada.access_token).json()["task"] == body


def test_put_without_a_title_is_refused_and_changes_nothing(api: Api) -> None:
    ada = sign_up(api, "ada")
    task = create_task(api, ada, description="kept")
    assert "title" in field_errors(api.put(f"{TASKS}/{task['id']}", token=ada.access_token, json={"status": "DONE"}))
    assert api.get(f"{TASKS}/{task['id']}", token=ada.access_token).json()["task"] == task


def test_patch_changes_only_the_given_fields(api: Api) -> None:
    ada = sign_up(api, "ada")
    task = create_task(
        api, ada, description="d", status="IN_PROGRESS", priority="LOW", due_date="2030-01-01T00:00:00Z", tags=["a"]
    )
    patched = api.patch(f"{TASKS}/{task['id']}", token=ada.access_token, json={"priority": "CRITICAL"})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["priority"] == "CRITICAL"
    unchanged = TASK_FIELDS - {"priority", "updated_at"}
    assert {name: body[name] for name in unchanged} == {name: task[name] for name in unchanged}
    assert instant(body["updated_at"]) > instant(task["updated_at"])

    cleared = api.patch(
        f"{TASKS}/{task['id']}", token=ada.access_token, json={"due_date": None, "tags": ["b", "a"]}
    ).json()
    assert (cleared["due_date"], cleared["tags"], cleared["priority"]) == (None, ["b", "a"], "CRITICAL")


def test_each_change_is_audited_once_with_what_changed(api: Api, db: psycopg.Connection) -> None:
    ada = sign_up(api, "ada")
    task = create_task(api, ada, title="Draft", tags=["a"])
    assert [(kind, user) for kind, user, _ in audit_events(db, task["id"])] == [("TASK_CREATED", ada.id)]

    path = f"{TASKS}/{task['id']}"
    api.patch(path, token=ada.access_token, json={"title": "Final", "status": "DONE", "priority": "MEDIUM"})
    [_, (kind, user, details)] = audit_events(db, task["id"])
    assert (kind, user) == ("TASK_UPDATED", ada.id)
    # priority was already MEDIUM: only real changes are recorded.
    assert details["changes"] == {"title": {"old": "Draft", "new": "Final"}, "status": {"old": "TODO", "new": "DONE"}}

    unchanged = api.patch(path, token=ada.access_token, json={"title": "Final"})
    assert unchanged.status_code == 200
    assert len(audit_events(db, task["id"])) == 2, "a change that changes nothing records nothing"

    api.put(path, token=ada.access_token, json={"title": "Final", "due_date": "2030-03-01T12:00:00Z"})
    [*_, (kind, _, details)] = audit_events(db, task["id"])
    assert kind == "TASK_UPDATED"
    assert set(details["changes"]) == {"status", "due_date", "tags"}
    assert details["changes"]["tags"] == {"old": ["a"], "new": []}
    assert details["changes"]["due_date"]["old"] is None
    assert instant(details["changes"]["due_date"]["new"]) == instant("2030-03-01T12:00:00+00:00")

    deleted = api.delete(path, token=ada.access_token)
    assert deleted.status_code == 204 and deleted.content == b""
    kinds = [(kind, user) for kind, user, _ in audit_events(db, task["id"])]
    assert kinds == [
        ("TASK_CREATED", ada.id),
        ("TASK_UPDATED", ada.id),
        ("TASK_UPDATED", ada.id),
        ("TASK_DELETED", ada.id),
    ]
    assert task_row(db, task["id"]) is None
    assert_error(api.get(path, token=ada.access_token), 404, "TASK_NOT_FOUND")


def test_deleting_a_task_removes_its_attachments_and_their_files(
    api: Api, db: psycopg.Connection, stack_env: dict[str, str]
) -> None:
    ada = sign_up(api, "ada")
    task = create_task(api, ada)
    s3 = boto3.client(
        "s3",
        endpoint_url=stack_env["S3_ENDPOINT_URL"],
        region_name=stack_env["AWS_DEFAULT_REGION"],
        aws_access_key_id=stack_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack_env["AWS_SECRET_ACCESS_KEY"],
    )
    bucket = stack_env["S3_BUCKET"]
    if bucket not in {known["Name"] for known in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)
    key = f"tasks/{task['id']}/{uuid.uuid4()}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"hello")
    db.execute(
        "INSERT INTO attachments (id, task_id, filename, content_type, size_bytes, storage_path)"
        " VALUES (%s, %s, 'hello.txt', 'text/plain', 5, %s)",
        (uuid.uuid4(), task["id"], key),
    )

    assert api.delete(f"{TASKS}/{task['id']}", token=ada.access_token).status_code == 204

    assert db.execute("SELECT count(*) FROM attachments WHERE task_id = %s", (task["id"],)).fetchone() == (0,)
    assert s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount") == 0
    [*_, (kind, _, details)] = audit_events(db, task["id"])
    assert (kind, details["attachments_removed"]) == ("TASK_DELETED", 1)


def test_others_may_read_a_task_but_only_its_owner_may_change_it(api: Api, db: psycopg.Connection) -> None:
    ada, bob = sign_up(api, "ada"), sign_up(api, "bob")
    task = create_task(api, ada, description="Ada's", tags=["mine"], due_date="2030-01-01T00:00:00Z")
    path = f"{TASKS}/{task['id']}"

    read = api.get(path, token=bob.access_token)
    assert read.status_code == 200 and read.json()["task"] == task
    assert titles(list_tasks(api, bob, owner_id=ada.id)) == [task["title"]]

    before = task_row(db, task["id"])
    assert_error(api.put(path, token=bob.access_token, json={"title": "Bob's now"}), 403, "NOT_TASK_OWNER")
    assert_error(api.patch(path, token=bob.access_token, json={"status": "DONE"}), 403, "NOT_TASK_OWNER")
    assert_error(api.delete(path, token=bob.access_token), 403, "NOT_TASK_OWNER")
    assert task_row(db, task["id"]) == before
    assert [kind for kind, _, _ in audit_events(db, task["id"])] == ["TASK_CREATED"]


# optimistic concurrency: ETag on single-task answers, If-Match on writes

STRONG_ETAG = re.compile(r'"[\x21\x23-\x7e]+"')


def etag_of(response: requests.Response) -> str:
    etag = response.headers.get("ETag")
    assert etag is not None, f"no ETag on {response.request.method} {response.url}: {dict(response.headers)}"
    assert STRONG_ETAG.fullmatch(etag), f"not a strong entity tag: {etag!r}"
    return etag


def if_match(etag: str) -> dict[str, str]:
    return {"If-Match": etag}


def test_get_put_and_patch_answer_an_etag_that_changes_with_every_change(api: Api) -> None:
    ada = sign_up(api, "ada")
    task = create_task(api, ada)
    path = f"{TASKS}/{task['id']}"
    loaded = etag_of(api.get(path, token=ada.access_token))
    assert etag_of(api.get(path, token=sign_up(api, "bob").access_token)) == loaded, "the same for every reader"

    patched = api.patch(path, token=ada.access_token, json={"status": "DONE"})
    assert patched.status_code == 200, patched.text
    after_patch = etag_of(patched)
    assert after_patch != loaded
    assert etag_of(api.get(path, token=ada.access_token)) == after_patch

    replaced = api.put(path, token=ada.access_token, json={"title": "Replaced"})
    assert replaced.status_code == 200, replaced.text
    after_put = etag_of(replaced)
    assert after_put not in (loaded, after_patch)
    assert etag_of(api.get(path, token=ada.access_token)) == after_put

    # A write that changes nothing leaves the task, and so its ETag, as it was.
    same = api.patch(path, token=ada.access_token, json={"title": "Replaced"})
    assert etag_of(same) == after_put
    # Only single-task answers carry one: a list has no single version.
    assert "ETag" not in api.get(TASKS, token=ada.access_token, params={"owner": "me"}).headers


def test_a_stale_if_match_is_refused_with_412_and_changes_nothing(api: Api, db: psycopg.Connection) -> None:
    ada = sign_up(api, "ada")
    task = create_task(api, ada, title="Draft", tags=["a"])
    path = f"{TASKS}/{task['id']}"
    stale = etag_of(api.get(path, token=ada.access_token))
    assert api.patch(path, token=ada.access_token, json={"title": "Changed in another tab"}).status_code == 200
    before = task_row(db, task["id"])
    events = audit_events(db, task["id"])

    for refused in (
        api.patch(path, token=ada.access_token, headers=if_match(stale), json={"title": "Overwrite"}),
        api.put(path, token=ada.access_token, headers=if_match(stale), json={"title": "Overwrite", "tags": []}),
    ):
        error = assert_error(refused, 412, "PRECONDITION_FAILED")
        assert "changed" in error["message"]
    assert task_row(db, task["id"]) == before
    assert audit_events(db, task["id"]) == events
    assert api.get(path, token=ada.access_token).json()["task"]["title"] == "Changed in another tab"


def test_a_matching_if_match_is_applied(api: Api) -> None:
    ada = sign_up(api, "ada")
    task = create_task(api, ada)
    path = f"{TASKS}/{task['id']}"

    current = etag_of(api.get(path, token=ada.access_token))
    patched = api.patch(path, token=ada.access_token, headers=if_match(current), json={"priority": "HIGH"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["priority"] == "HIGH"

    replaced = api.put(path, token=ada.access_token, headers=if_match(etag_of(patched)), json={"title": "Put"})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["title"] == "Put"

    # A list of tags matches when any of them is current; "*" matches any version of an existing task.
    listed = f'"stale-one", {etag_of(replaced)} , "another"'
    assert api.patch(path, token=ada.access_token, headers=if_match(listed), json={"status": "DONE"}).status_code == 200
    starred = api.patch(path, token=ada.access_token, headers=if_match("*"), json={"status": "BLOCKED"})
    assert starred.status_code == 200, starred.text


def test_a_weak_tag_never_matches_because_if_match_compares_strongly(api: Api) -> None:
    ada = sign_up(api, "ada")
    task = create_task(api, ada)
    path = f"{TASKS}/{task['id']}"
    current = etag_of(api.get(path, token=ada.access_token))
    weak = api.patch(path, token=ada.access_token, headers=if_match(f"W/{current}"), json={"status": "DONE"})
    assert_error(weak, 412, "PRECONDITION_FAILED")
    assert api.get(path, token=ada.access_token).json()["task"]["status"] == "TODO"


def test_without_if_match_writes_are_applied_as_before(api: Api) -> None:
    ada = sign_up(api, "ada")
    task = create_task(api, ada)
    path = f"{TASKS}/{task['id']}"
    loaded = etag_of(api.get(path, token=ada.access_token))
    assert api.patch(path, token=ada.access_token, json={"title": "First"}).status_code == 200

    # No precondition, no 428: clients that never send If-Match keep working, last write wins.
    second = api.patch(path, token=ada.access_token, json={"title": "Second"})
    assert second.status_code == 200, second.text
    assert second.json()["title"] == "Second"
    assert etag_of(second) != loaded
    put = api.put(path, token=ada.access_token, json={"title": "Third"})
    assert put.status_code == 200, put.text
    assert api.delete(path, token=ada.access_token).status_code == 204


def test_concurrent_patches_with_the_same_if_match_apply_exactly_one(api: Api, db: psycopg.Connection) -> None:
    ada = sign_up(api, "ada")
    clients = 6
    for round_number in range(3):
        task = create_task(api, ada)
        path = f"{TASKS}/{task['id']}"
        loaded = etag_of(api.get(path, token=ada.access_token))
        start = threading.Barrier(clients)

        def patch(number: int, path: str = path, loaded: str = loaded, start: threading.Barrier = start) -> Any:
            own = Api(api.base_url)  # a connection of its own: the requests really overlap
            start.wait()
            return own.patch(path, token=ada.access_token, headers=if_match(loaded), json={"title": f"tab {number}"})

        with ThreadPoolExecutor(clients) as pool:
            answers = list(pool.map(patch, range(clients)))

        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200] + [412] * (clients - 1), (round_number, [answer.text for answer in answers])
        [winner] = [answer for answer in answers if answer.status_code == 200]
        for loser in answers:
            if loser is not winner:
                assert_error(loser, 412, "PRECONDITION_FAILED")
        current = api.get(path, token=ada.access_token)
        assert current.json()["task"]["title"] == winner.json()["title"]
        assert etag_of(current) == etag_of(winner)
        assert [kind for kind, _, _ in audit_events(db, task["id"])] == ["TASK_CREATED", "TASK_UPDATED"]


def test_delete_with_a_stale_if_match_is_refused_and_the_task_stays(api: Api, db: psycopg.Connection) -> None:
    ada = sign_up(api, "ada")
    task = create_task(api, ada)
    path = f"{TASKS}/{task['id']}"
    stale = etag_of(api.get(path, token=ada.access_token))
    changed = api.patch(path, token=ada.access_token, json={"description": "changed meanwhile"})
    before = task_row(db, task["id"])

    assert_error(api.delete(path, token=ada.access_token, headers=if_match(stale)), 412, "PRECONDITION_FAILED")
    assert task_row(db, task["id"]) == before
    assert [kind for kind, _, _ in audit_events(db, task["id"])] == ["TASK_CREATED", "TASK_UPDATED"]
    assert api.get(path, token=ada.access_token).status_code == 200

    deleted = api.delete(path, token=ada.access_token, headers=if_match(etag_of(changed)))
    assert deleted.status_code == 204, deleted.text
    assert task_row(db, task["id"]) is None


def test_if_match_is_checked_after_the_task_is_found_and_owned(api: Api, db: psycopg.Connection) -> None:
    ada, bob = sign_up(api, "ada"), sign_up(api, "bob")
    task = create_task(api, ada)
    path = f"{TASKS}/{task['id']}"
    stale = '"not-the-current-one"'
    assert_error(api.patch(path, token=bob.access_token, headers=if_match(stale), json={"title": "x"}), 403)
    assert_error(api.delete(path, token=bob.access_token, headers=if_match("*")), 403, "NOT_TASK_OWNER")
    unknown = f"{TASKS}/{uuid.uuid4()}"
    assert_error(api.patch(unknown, token=ada.access_token, headers=if_match("*"), json={"title": "x"}), 404)
    assert_error(api.delete(unknown, token=ada.access_token, headers=if_match(stale)), 404, "TASK_NOT_FOUND")
    assert [kind for kind, _, _ in audit_events(db, task["id"])] == ["TASK_CREATED"]


@pytest.mark.parametrize("header", ["unquoted", '"open', '"a" "b"', "W/", '"a",,*', '*, "a"', ""])
def test_an_if_match_that_is_no_list_of_entity_tags_is_refused_naming_it(api: Api, header: str) -> None:
    ada = sign_up(api, "ada")
    task = create_task(api, ada)
    path = f"{TASKS}/{task['id']}"
    refused = api.patch(path, token=ada.access_token, headers={"If-Match": header}, json={"title": "x"})
    assert "If-Match" in field_errors(refused)
    assert "If-Match" in field_errors(api.delete(path, token=ada.access_token, headers={"If-Match": header}))
    assert api.get(path, token=ada.access_token).json()["task"]["title"] == task["title"]


def test_the_openapi_document_describes_etag_and_if_match(api: Api) -> None:
    document = api.get("/api/v1/tasks/openapi.json").json()
    operations = document["paths"]["/api/v1/tasks/{task_id}"]
    for method in ("get", "put", "patch"):
        assert operations[method]["responses"]["200"]["headers"]["ETag"]["required"] is True, method
    for method in ("put", "patch", "delete"):
        parameters = {parameter["name"]: parameter for parameter in operations[method]["parameters"]}
        assert parameters["If-Match"]["in"] == "header", method
        assert parameters["If-Match"].get("required", False) is False, method
        assert "412" in operations[method]["responses"], method
        assert "428" not in operations[method]["responses"], method


# list: search, filters, sort, pages


def test_search_ignores_case_and_looks_in_title_and_description(api: Api) -> None:
    ada = sign_up(api, "ada")
    word = unique_word()
    in_title = create_task(api, ada, title=f"Fix {word} today")
    in_description = create_task(api, ada, title="Something else", description=f"About {word.upper()}.")
    create_task(api, ada, title="Unrelated", description="nothing to see")

    page = list_tasks(api, ada, search=f"  {word.upper()} ")
    assert page["total"] == 2
    assert {item["id"] for item in page["items"]} == {in_title["id"], in_description["id"]}


def test_search_treats_wildcards_as_plain_text(api: Api) -> None:
    ada = sign_up(api, "ada")
    word = unique_word()
    create_task(api, ada, title=f"{word}% off")
    create_task(api, ada, title=f"{word}x_y")
    assert titles(list_tasks(api, ada, search=f"{word}%")) == [f"{word}% off"]
    assert titles(list_tasks(api, ada, search=f"{word}_")) == []


def test_filters_by_status_priority_and_due_range(api: Api) -> None:
    ada = sign_up(api, "ada")
    create_task(api, ada, title="todo-low", status="TODO", priority="LOW", due_date="2030-01-01T00:00:00Z")
    create_task(api, ada, title="doing-high", status="IN_PROGRESS", priority="HIGH", due_date="2030-01-10T00:00:00Z")
    create_task(api, ada, title="done-high", status="DONE", priority="HIGH", due_date="2030-01-20T00:00:00Z")
    create_task(api, ada, title="blocked-critical", status="BLOCKED", priority="CRITICAL")

    def matching(**params: Any) -> set[str]:
        return set(titles(list_tasks(api, ada, owner="me", **params)))

    assert matching(status="TODO,DONE") == {"todo-low", "done-high"}
    assert matching(status=["TODO", "DONE"]) == {"todo-low", "done-high"}
    assert matching(status="blocked") == {"blocked-critical"}
    assert matching(priority="HIGH") == {"doing-high", "done-high"}
    assert matching(priority="HIGH,CRITICAL", status="DONE,BLOCKED") == {"done-high", "blocked-critical"}
    # Both ends are inclusive; tasks without a due date never match a due range.
    assert matching(due_from="2030-01-10T00:00:00Z") == {"doing-high", "done-high"}
    assert matching(due_to="2030-01-10T00:00:00+00:00") == {"todo-low", "doing-high"}
    assert matching(due_from="2030-01-02T00:00:00Z", due_to="2030-01-15T00:00:00Z") == {"doing-high"}

    assert "status" in field_errors(api.get(TASKS, token=ada.access_token, params={"status": "TODO,FINISHED"}))
    assert "priority" in field_errors(api.get(TASKS, token=ada.access_token, params={"priority": "urgent"}))
    backwards = {"due_from": "2030-02-01T00:00:00Z", "due_to": "2030-01-01T00:00:00Z"}
    assert "due_to" in field_errors(api.get(TASKS, token=ada.access_token, params=backwards))


def test_tags_filter_matches_any_of_the_given_tags(api: Api) -> None:
    ada, bob = sign_up(api, "ada"), sign_up(api, "bob")
    red, blue = unique_word("red-"), unique_word("blue-")
    create_task(api, ada, title="red only", tags=[red])
    create_task(api, bob, title="blue and red", tags=[blue, red, "other"])
    create_task(api, ada, title="untagged")

    assert set(titles(list_tasks(api, ada, tags=red.upper()))) == {"red only", "blue and red"}
    assert titles(list_tasks(api, ada, tags=blue)) == ["blue and red"]
    assert list_tasks(api, ada, tags=f"{red},{blue}")["total"] == 2
    assert list_tasks(api, ada, tags=[red, blue], owner="me")["total"] == 1


def test_a_tag_with_a_comma_is_refused_as_the_filter_could_never_name_it(api: Api) -> None:
    ada = sign_up(api, "ada")
    word = unique_word("comma-")
    for tags in ([f"{word},b"], ["fine", f" {word} , "], [","]):
        refused = field_errors(api.post(TASKS, token=ada.access_token, json={"title": "x", "tags": tags}))
        assert "commas" in str(refused["tags"]), refused
    task = create_task(api, ada, tags=[word])
    path = f"{TASKS}/{task['id']}"
    assert "tags" in field_errors(api.put(path, token=ada.access_token, json={"title": "x", "tags": [f"{word},b"]}))
    assert "tags" in field_errors(api.patch(path, token=ada.access_token, json={"tags": [f"{word},b"]}))
    assert api.get(path, token=ada.access_token).json()["task"]["tags"] == [word]
    # Every tag a task can have, the filter can name.
    assert titles(list_tasks(api, ada, tags=f"{word},{unique_word('none-')}")) == [task["title"]]


def test_owner_filters_list_my_tasks_or_someone_elses(api: Api) -> None:
    ada, bob = sign_up(api, "ada"), sign_up(api, "bob")
    tag = unique_word("shared-")
    create_task(api, ada, title="ada's", tags=[tag])
    create_task(api, bob, title="bob's", tags=[tag])

    assert titles(list_tasks(api, ada, tags=tag, owner="me")) == ["ada's"]
    assert titles(list_tasks(api, bob, tags=tag, owner="me")) == ["bob's"]
    assert titles(list_tasks(api, ada, tags=tag, owner_id=bob.id)) == ["bob's"]
    assert list_tasks(api, ada, tags=tag)["total"] == 2
    [item] = list_tasks(api, bob, tags=tag, owner_id=ada.id)["items"]
    assert (item["owner_id"], item["owner_email"]) == (ada.id, ada.email)

    assert "owner" in field_errors(api.get(TASKS, token=ada.access_token, params={"owner": "someone"}))
    assert "owner_id" in field_errors(api.get(TASKS, token=ada.access_token, params={"owner_id": "not-a-uuid"}))
    both = {"owner": "me", "owner_id": bob.id}
    assert "owner_id" in field_errors(api.get(TASKS, token=ada.access_token, params=both))


def test_the_list_is_newest_first_unless_sorted_otherwise(api: Api) -> None:
    ada = sign_up(api, "ada")
    for name in ("first", "second", "third"):
        create_task(api, ada, title=name)
    assert titles(list_tasks(api, ada, owner="me")) == ["third", "second", "first"]
    assert titles(list_tasks(api, ada, owner="me", sort="created_at:asc")) == ["first", "second", "third"]
    assert titles(list_tasks(api, ada, owner="me", sort="title")) == ["first", "second", "third"]


def test_sort_by_several_fields_in_order(api: Api) -> None:
    ada = sign_up(api, "ada")
    create_task(api, ada, title="high-late", priority="HIGH", due_date="2030-03-01T00:00:00Z")
    create_task(api, ada, title="high-none", priority="HIGH")
    create_task(api, ada, title="high-early", priority="HIGH", due_date="2030-01-01T00:00:00Z")
    create_task(api, ada, title="low-early", priority="LOW", due_date="2029-01-01T00:00:00Z")
    create_task(api, ada, title="critical", priority="CRITICAL", due_date="2031-01-01T00:00:00Z")

    expected = ["critical", "high-early", "high-late", "high-none", "low-early"]
    assert titles(list_tasks(api, ada, owner="me", sort="priority:desc,due_date:asc")) == expected
    assert titles(list_tasks(api, ada, owner="me", sort=["priority:desc", "due_date"])) == expected
    # Tasks without a due date come last whichever the direction.
    by_due_desc = titles(list_tasks(api, ada, owner="me", sort="due_date:desc"))
    assert by_due_desc == ["critical", "high-late", "high-early", "low-early", "high-none"]


@pytest.mark.parametrize(
    "sort", ["owner_id:asc", "password_hash", "title:sideways", "title:asc,title:desc", "priority;drop table tasks"]
)
def test_sorting_on_anything_but_the_allowed_fields_is_refused_naming_sort(api: Api, sort: str) -> None:
    ada = sign_up(api, "ada")
    assert "sort" in field_errors(api.get(TASKS, token=ada.access_token, params={"sort": sort}))


def test_pages_cover_the_list_and_report_the_total(api: Api) -> None:
    ada = sign_up(api, "ada")
    for number in range(5):
        create_task(api, ada, title=f"task {number}")

    first = list_tasks(api, ada, owner="me", page_size=2)
    assert (first["page"], first["page_size"], first["total"], titles(first)) == (1, 2, 5, ["task 4", "task 3"])
    second = list_tasks(api, ada, owner="me", page_size=2, page=2)
    assert titles(second) == ["task 2", "task 1"]
    last = list_tasks(api, ada, owner="me", page_size=2, page=3)
    assert (titles(last), last["total"]) == (["task 0"], 5)
    beyond = list_tasks(api, ada, owner="me", page_size=2, page=4)
    assert (beyond["items"], beyond["page"], beyond["total"]) == ([], 4, 5)

    default = list_tasks(api, ada, owner="me")
    assert (default["page"], default["page_size"], len(default["items"])) == (1, 20, 5)
    assert list_tasks(api, ada, owner="me", page_size=100)["page_size"] == 100


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": 101}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page": 0}, "page"),
        ({"page": -1}, "page"),
        ({"page": "two"}, "page"),
    ],
)
def test_pages_out_of_range_are_refused_naming_the_parameter(api: Api, params: dict[str, Any], field: str) -> None:
    ada = sign_up(api, "ada")
    assert field in field_errors(api.get(TASKS, token=ada.access_token, params=params))


def test_the_openapi_document_describes_every_list_parameter(api: Api) -> None:
    document = api.get("/api/v1/tasks/openapi.json").json()
    parameters = {parameter["name"] for parameter in document["paths"]["/api/v1/tasks"]["get"]["parameters"]}
    assert parameters == {
        "search",
        "status",
        "priority",
        "tags",
        "due_from",
        "due_to",
        "owner",
        "owner_id",
        "sort",
        "page",
        "page_size",
    }
    task_body = document["components"]["schemas"]["TaskWrite"]
    assert task_body["properties"]["title"]["maxLength"] == 200
    assert task_body["properties"]["tags"]["maxItems"] == 20
