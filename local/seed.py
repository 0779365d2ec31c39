"""`make seed`: demo users and a few hundred tasks with tags, due dates and attachments.

Goes through the same use cases as the API (so every row has its audit event), against the services of a
running `make up` unless DATABASE_URL / S3_ENDPOINT_URL name others. Seeding twice changes nothing.
"""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta

from tasktracker.bootstrap.attachments import attachment_use_cases
from tasktracker.bootstrap.auth import auth_use_cases
from tasktracker.bootstrap.tasks import task_use_cases
from tasktracker.config import settings as environment_settings
from tasktracker.domain.entities import User
from tasktracker.domain.enums import TaskPriority, TaskStatus
from tasktracker.domain.errors import ConflictError
from tasktracker.platform.security import FlaskJwtAccessTokenIssuer

DEMO_PASSWORD = "correct horse battery"
DEMO_USERS = [
    ("ada@example.com", "Ada Lovelace"),
    ("grace@example.com", "Grace Hopper"),
    ("linus@example.com", "Linus Torvalds"),
]
TASKS_PER_USER = 100
TAGS = ["backend", "frontend", "urgent", "docs", "ops", "security", "design", "billing", "research", "bug"]
VERBS = ["Write", "Review", "Fix", "Plan", "Ship", "Test", "Refactor", "Document", "Investigate", "Deploy"]
OBJECTS = [
    "the login page",
    "the billing export",
    "release notes",
    "the search index",
    "the onboarding email",
    "the quarterly report",
    "flaky CI job",
    "password reset flow",
    "the audit dashboard",
    "S3 lifecycle rules",
]


def main() -> None:
    settings = environment_settings()
    auth = auth_use_cases(settings, FlaskJwtAccessTokenIssuer(settings.access_token_ttl_seconds))
    tasks = task_use_cases(settings)
    attachments = attachment_use_cases(settings)
    randomness = random.Random(2026)  # the same demo data every time
    now = datetime.now(UTC)
    created_users: list[User] = []
    for email, full_name in DEMO_USERS:
        try:
            created_users.append(auth.register(email, DEMO_PASSWORD, full_name))
        except ConflictError:
            print(f"{email} exists already: nothing to seed for it")
    task_count = attachment_count = 0
    for user in created_users:
        for number in range(TASKS_PER_USER):
            due = now + timedelta(hours=randomness.randint(-72, 24 * 21)) if randomness.random() < 0.8 else None
            view = tasks.create(
                user.id,
                title=f"{randomness.choice(VERBS)} {randomness.choice(OBJECTS)} #{number + 1}",
                description=randomness.choice([None, "Details in the attached notes.", "Ask in #team if blocked."]),
                status=randomness.choice(list(TaskStatus)),
                priority=randomness.choice(list(TaskPriority)),
                due_date=due,
                tags=randomness.sample(TAGS, randomness.randint(0, 3)),
            )
            task_count += 1
            if number % 10 == 0:
                notes = f"Notes for {view.task.title}\n\nOwner: {user.email}\n".encode()
                attachments.upload(
                    user.id, view.task.id, filename="notes.txt", content_type="text/plain", stream=io.BytesIO(notes)
                )
                attachment_count += 1
    print(f"Seeded {len(created_users)} users, {task_count} tasks and {attachment_count} attachments.")
    if created_users:
        print(f"Sign in as {DEMO_USERS[0][0]} (or the others) with the password '{DEMO_PASSWORD}'.")


if __name__ == "__main__":
    main()
